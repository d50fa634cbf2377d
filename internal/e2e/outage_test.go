package e2e

import (
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpProxy forwards connections to a target; cut drops every connection and
// refuses new ones until restore, like a database restart would.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		wg.Wait()
	})
	return p
}

func (p *tcpProxy) serve(client net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		client.Close()
		return
	}
	p.mu.Unlock()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, server); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// cut closes every forwarded connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// restore accepts connections again.
func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// TestWaitRidesOutDatabaseOutage: following survives losing the database
// for a while (here: every connection cut and refused), and reports it.
func TestWaitRidesOutDatabaseOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t) // the worker talks to the database directly
	id := e.submit(writeFile(t, "nap.yaml", "name: nap\nnodes:\n  - {id: nap, kind: sleep, args: {ms: 2000}}\n"))

	u, err := url.Parse(e.URL)
	require.NoError(t, err)
	proxy := startProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	follower := startEnqueueAt(t, u.String(), "wait", "--poll-interval", "100ms", id)
	waitFor(t, 30*time.Second, "the first progress line", func() bool {
		return strings.Contains(follower.stderr(), "0/1 nodes final")
	})

	proxy.cut()
	const note = "cannot read the status of workflow "
	waitFor(t, 30*time.Second, "wait to report the outage", func() bool {
		return strings.Contains(follower.stderr(), note) || follower.exited()
	})
	require.False(t, follower.exited(), "wait gave up on the first failed read:\n%s", follower.stderr())
	require.Contains(t, follower.stderr(), note+id+", retrying for up to 1m0s")
	proxy.restore()

	code := follower.wait(60 * time.Second)
	require.Equal(t, exitOK, code, "%s", follower.stderr())
	require.Contains(t, follower.stderr(), "workflow "+id+" (nap) completed")
}
