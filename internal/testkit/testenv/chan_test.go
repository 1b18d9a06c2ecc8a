package testenv

import (
	"testing"
	"time"
)

// fatalTB records a Fatal instead of ending the test, and ends only the
// goroutine that called it, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = args[0].(string)
	panic(f)
}

// run calls fn with a fatalTB and returns the message it failed with.
func run(t *testing.T, fn func(tb testing.TB)) (msg string) {
	f := &fatalTB{TB: t}
	defer func() {
		if r := recover(); r != nil && r != any(f) {
			panic(r)
		}
		msg = f.msg
	}()
	fn(f)
	return ""
}

func TestReceiveAndSend(t *testing.T) {
	ch := make(chan int, 1)
	Send(t, ch, 7, time.Second, "not sent")
	if v := Receive(t, ch, time.Second, "not received"); v != 7 {
		t.Fatalf("received %d, want 7", v)
	}
	if msg := run(t, func(tb testing.TB) { Receive(tb, ch, time.Millisecond, "nothing came") }); msg != "nothing came" {
		t.Fatalf("Receive on an empty channel failed with %q", msg)
	}
	ch <- 1 // full: a send cannot go through
	if msg := run(t, func(tb testing.TB) { Send(tb, ch, 2, time.Millisecond, "nobody took it") }); msg != "nobody took it" {
		t.Fatalf("Send on a full channel failed with %q", msg)
	}
}
