package etcd

import (
	"net"
	"sync"
)

// proxy is a TCP proxy in front of one etcd member's client URL that can
// stop forwarding without closing anything: connections stay open, bytes
// stop moving, new connections are accepted and left waiting. To a client
// the member is then as unresponsive as a process stopped with SIGSTOP
// (whose kernel still accepts connections), while the member itself, and
// its Raft traffic, carry on.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	paused bool
	resume chan struct{} // closed when forwarding resumes
	conns  []net.Conn
	closed bool
	cut    bool // connections refused and dropped, as by a killed process
}

// newProxy starts a proxy to target (host:port) on a port the OS picks.
func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, resume: make(chan struct{})}
	close(p.resume)
	go p.accept()
	return p, nil
}

// url is the proxy's client URL.
func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *proxy) serve(c net.Conn) {
	p.wait()
	t, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, t) {
		return
	}
	go p.pipe(t, c)
	p.pipe(c, t)
}

// track records a connection pair to close with the proxy; false if the
// proxy is closed already.
func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.cut {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, cs...)
	return true
}

// pipe copies from src to dst, holding each chunk while paused.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait blocks while the proxy is paused.
func (p *proxy) wait() {
	p.mu.Lock()
	ch := p.resume
	p.mu.Unlock()
	<-ch
}

// pause stops forwarding.
func (p *proxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused, p.resume = true, make(chan struct{})
	}
}

// unpause forwards again, the bytes held first.
func (p *proxy) unpause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resume)
	}
}

// close stops the proxy and closes every connection.
func (p *proxy) close() {
	p.unpause()
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
}

// cutOff drops every connection and every new one until mend, as the
// sockets of a killed process are reset: nothing reaches the member
// behind it any more.
func (p *proxy) cutOff() {
	p.unpause()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// mend forwards new connections again after cutOff.
func (p *proxy) mend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}
