package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// connect opens a connection for the test and closes it when it ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func count(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM replica_probe").Scan(&n); err != nil {
		t.Fatalf("count on %s: %v", conn.Config().Host, err)
	}
	return n
}

// TestReplica: the replica is a hot standby of the primary that replays
// its writes, lags while paused, and is gone once stopped.
func TestReplica(t *testing.T) {
	start := time.Now()
	primaryDSN := Schema(t)
	r := StartReplica(t)
	t.Logf("StartReplica took %v", time.Since(start))

	primary := connect(t, primaryDSN)
	if _, err := primary.Exec(t.Context(), "CREATE TABLE replica_probe (n int)"); err != nil {
		t.Fatal(err)
	}
	r.WaitReplayed(t)
	replica := connect(t, r.DSN(t, primaryDSN))
	var inRecovery bool
	if err := replica.QueryRow(t.Context(), "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("replica pg_is_in_recovery: %v, %v; want true", inRecovery, err)
	}
	if _, err := replica.Exec(t.Context(), "INSERT INTO replica_probe VALUES (0)"); err == nil {
		t.Error("the replica accepted a write")
	}
	if n := count(t, replica); n != 0 {
		t.Fatalf("replica has %d rows, want 0", n)
	}

	// Streaming: a write on the primary reaches the replica.
	if _, err := primary.Exec(t.Context(), "INSERT INTO replica_probe VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r.WaitReplayed(t)
	if n := count(t, replica); n != 1 {
		t.Fatalf("replica has %d rows after a replayed insert, want 1", n)
	}

	// Paused: the next write stays invisible on the replica until resumed.
	r.PauseReplay(t)
	if _, err := primary.Exec(t.Context(), "INSERT INTO replica_probe VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, replica); n != 1 {
		t.Errorf("paused replica has %d rows, want 1 (the second insert not replayed)", n)
	}
	r.ResumeReplay(t)
	r.WaitReplayed(t)
	if n := count(t, replica); n != 2 {
		t.Errorf("resumed replica has %d rows, want 2", n)
	}

	stopped := time.Now()
	r.Stop(t)
	t.Logf("Stop took %v", time.Since(stopped))
	if err := replica.Ping(t.Context()); err == nil {
		t.Error("a session on the stopped replica still answers")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, r.DSN(t, primaryDSN)); err == nil {
		c.Close(context.Background())
		t.Error("the stopped replica accepts connections")
	} else if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("connecting to the stopped replica hung instead of being refused: %v", err)
	}
	r.Stop(t) // again: nothing to do
}
