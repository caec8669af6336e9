package consul

// Stopped reports whether r's registrar, the goroutine that keeps the
// service registered, has ended.
func Stopped(r *Registration) bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}
