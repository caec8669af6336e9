package etcd

import (
	"fmt"
	"sync"
	"time"
)

// logLimiter writes at most one warning per interval and counts the lines it
// held back, so that a registry full of bad values cannot flood the log.
// It is safe for concurrent use.
type logLimiter struct {
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newLogLimiter(every time.Duration) *logLimiter { return &logLimiter{every: every} }

// warningf logs the line unless one was logged less than an interval ago.
func (l *logLimiter) warningf(format string, args ...any) {
	if !l.allow(time.Now()) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if n := l.takeSuppressed(); n > 0 {
		msg = fmt.Sprintf("%s (%d similar lines suppressed)", msg, n)
	}
	logger.Warning(msg)
}

func (l *logLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return false
	}
	l.last = now
	return true
}

func (l *logLimiter) takeSuppressed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.suppressed
	l.suppressed = 0
	return n
}
