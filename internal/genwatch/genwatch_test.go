package genwatch_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/genwatch"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// memSource is a value in memory with a generation, set by the test: the
// watcher's logic apart from any database (the block set's and the
// domain mirror's tests run it on PostgreSQL and SQLite).
type memSource struct {
	mu     sync.Mutex
	gen    int64
	val    string
	loads  int
	closed bool
}

func (s *memSource) set(gen int64, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen, s.val = gen, v
}

func (s *memSource) Generation(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, nil
}

func (s *memSource) Load(context.Context) (int64, *string, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.val == "" {
		return s.gen, nil, 0, nil
	}
	v := s.val
	return s.gen, &v, 1, nil
}

func (s *memSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

func (s *memSource) count() (loads int, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads, s.closed
}

func TestWatcher(t *testing.T) {
	src := &memSource{}
	opens := 0
	w := genwatch.Watch(genwatch.Config[string]{
		Open: func(context.Context) (genwatch.Source[string], error) {
			if opens++; opens == 1 {
				return nil, errors.New("down at start")
			}
			return src, nil
		},
		Every: time.Hour, // only pokes poll after the first
	})
	if w.Value() != nil {
		t.Fatal("a value before any load")
	}
	testenv.WaitFor(t, "the failed open is retried", 5*time.Second, func() bool {
		w.Poke()
		return w.Loaded()
	})
	src.set(1, "one")
	w.Poke()
	testenv.WaitFor(t, "generation 1 loads", 5*time.Second, func() bool {
		v := w.Value()
		return v != nil && *v == "one"
	})
	loads, _ := src.count()
	w.Poke() // same generation: no load
	src.set(2, "")
	w.Poke()
	testenv.WaitFor(t, "generation 2 (empty) loads", 5*time.Second, func() bool { return w.Value() == nil })
	if n, _ := src.count(); n != loads+1 {
		t.Errorf("%d loads for one new generation", n-loads)
	}
	w.Close()
	w.Close() // idempotent
	if _, closed := src.count(); !closed {
		t.Error("Close left the source open")
	}
	var none *genwatch.Watcher[string]
	if none.Value() != nil || none.Loaded() {
		t.Error("a nil watcher has a value")
	}
	none.Poke()
}
