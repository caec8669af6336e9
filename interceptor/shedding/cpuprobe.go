package shedding

import "time"

// cpuProbe measures the CPU time the process used between two reads. It is
// not safe for concurrent use.
type cpuProbe struct {
	read func() time.Duration // cumulative CPU time, or -1 if unknown
	prev time.Duration
}

func newCPUProbe(read func() time.Duration) *cpuProbe {
	return &cpuProbe{read: read, prev: read()}
}

// since returns the CPU time used since the previous call, or -1 if unknown.
func (p *cpuProbe) since() time.Duration {
	now := p.read()
	if now < 0 || p.prev < 0 || now < p.prev {
		p.prev = now
		return -1
	}
	d := now - p.prev
	p.prev = now
	return d
}
