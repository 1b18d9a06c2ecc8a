package cluster_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/snowflake"
)

// The history of worker-ID grants and sequence blocks, and its check.
//
// Every node records each lease and block command it proposes: the input
// before the proposal and the outcome after it, each stamped with the
// machine's real clock (time.Now, never the node's skewed clock), so that
// [call, return] encloses the moment Raft applied it. It also records
// every ID and code it handed out. checkHistory then asks porcupine
// whether some order of the grants, consistent with real time, is a legal
// sequence of the lease and block specification below, and checks every
// ID and code against the grants of the node that issued it.

// opKind names a recorded command.
type opKind string

const (
	opAcquire  opKind = "acquire"
	opRenew    opKind = "renew"
	opRelease  opKind = "release"
	opAllocate opKind = "allocate"
)

// outcome says what is known of a command's result.
type outcome string

const (
	// applied: the FSM's answer came back, without an error.
	applied outcome = "applied"
	// refused: the FSM's answer came back with an error (not holder, no
	// free worker): the command changed nothing.
	refused outcome = "refused"
	// unknown: no answer (timeout, no leader, the process died): the
	// command may or may not have been applied, even twice (propose
	// retries).
	unknown outcome = "unknown"
)

// grantOp is one recorded command with its outcome.
type grantOp struct {
	Proc string `json:"proc"` // the process that proposed it (node and incarnation)
	Op   int64  `json:"op"`   // its number in the process: a call and its return share it
	Node string `json:"node"` // the node the command is for (an intruder's name, say)
	Kind opKind `json:"kind"`

	// Input.
	Worker uint16 `json:"worker,omitempty"`
	Gen    uint64 `json:"gen,omitempty"`
	NowMs  int64  `json:"now_ms,omitempty"`
	TTLMs  int64  `json:"ttl_ms,omitempty"`
	LastMs int64  `json:"last_ms,omitempty"`
	Size   uint64 `json:"size,omitempty"`

	// Output.
	Outcome    outcome `json:"outcome"`
	Err        string  `json:"err,omitempty"`
	OutWorker  uint16  `json:"out_worker,omitempty"`
	OutGen     uint64  `json:"out_gen,omitempty"`
	NotAfterMs int64   `json:"not_after_ms,omitempty"`
	ExpiresMs  int64   `json:"expires_ms,omitempty"`
	Start      uint64  `json:"start,omitempty"`
	End        uint64  `json:"end,omitempty"`

	Call   int64 `json:"call"`   // real time, Unix ns
	Return int64 `json:"return"` // real time, Unix ns; 0: never returned
}

// input fills an op's input from a proposed command; ok is false for a
// command the history does not follow.
func (o *grantOp) input(c fsm.Command) bool {
	switch c := c.(type) {
	case fsm.AcquireLease:
		o.Kind, o.Node, o.NowMs, o.TTLMs = opAcquire, c.Node, c.NowMs, c.TTLMs
	case fsm.RenewLease:
		o.Kind, o.Node, o.Worker, o.Gen, o.NowMs, o.TTLMs, o.LastMs = opRenew, c.Node, c.Worker, c.Gen, c.NowMs, c.TTLMs, c.LastMs
	case fsm.ReleaseLease:
		o.Kind, o.Node, o.Worker, o.Gen, o.LastMs = opRelease, c.Node, c.Worker, c.Gen, c.LastMs
	case fsm.AllocateBlock:
		o.Kind, o.Node, o.Size = opAllocate, c.Node, c.Size
	default:
		return false
	}
	return true
}

// output fills an op's outcome from propose's answer.
func (o *grantOp) output(resp any, err error) {
	if err != nil {
		o.Outcome, o.Err = unknown, err.Error()
		return
	}
	var ferr error
	switch r := resp.(type) {
	case *fsm.LeaseResult:
		o.OutWorker, o.OutGen, o.NotAfterMs, o.ExpiresMs, ferr = r.Worker, r.Gen, r.NotAfterMs, r.ExpiresMs, r.Err
	case *fsm.BlockResult:
		o.Start, o.End, ferr = r.Start, r.End, r.Err
	default:
		o.Outcome, o.Err = unknown, fmt.Sprintf("unexpected answer %T", resp)
		return
	}
	o.Outcome = applied
	if ferr != nil {
		o.Outcome, o.Err = refused, ferr.Error()
	}
}

// issued is an ID or a code a node handed out.
type issued struct {
	Proc string `json:"proc"`
	Node string `json:"node"`
	ID   int64  `json:"id,omitempty"`
	Seq  uint64 `json:"seq,omitempty"`
	Code bool   `json:"code,omitempty"` // Seq is a code's sequence number
	At   int64  `json:"at"`             // real time, Unix ns
}

// workerState is one worker ID's lease record, as the specification
// keeps it (the FSM's worker record).
type workerState struct {
	held    bool
	holder  string
	gen     uint64
	expires int64
	high    int64
}

// start is the timestamp every ID of the worker ID's next holder must be
// after.
func (w workerState) start() int64 {
	if w.held {
		return max(w.high, w.expires)
	}
	return w.high
}

// leaseModel is the sequential specification of one worker ID's leases:
//   - an acquire may take the worker ID only when it is free or its lease
//     has run out by the acquirer's clock, with a generation above the
//     last one and a start (NotAfterMs) at or after every timestamp the
//     earlier holders were allowed (their lease's end); a generation more
//     than one above means acquires applied unseen (a retried propose,
//     or one whose answer was lost), so the start may then be later;
//   - a renew or a release succeeds only for the holder of that
//     generation, and a renew moves the end forward as the FSM says.
//
// So the windows (NotAfterMs, ExpiresMs] of successive holders never
// overlap: never two holders of a worker ID at once, on the timeline of
// the IDs' timestamps. Refused commands and acquires without an answer
// are left out (they change nothing, or what they changed is covered by
// the generation rule); a renew or release without an answer may or may
// not have been applied, and the model follows both.
var leaseModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{workerState{}} },
	Step: func(state, input, output any) []any {
		w, op := state.(workerState), input.(grantOp)
		switch op.Kind {
		case opAcquire:
			if w.held && op.NowMs <= w.expires || op.OutGen <= w.gen {
				return nil
			}
			start := w.start()
			if op.OutGen == w.gen+1 && op.NotAfterMs != start || op.NotAfterMs < start {
				return nil
			}
			if op.ExpiresMs != max(op.NowMs, op.NotAfterMs)+op.TTLMs {
				return nil
			}
			return []any{workerState{held: true, holder: op.Node, gen: op.OutGen, expires: op.ExpiresMs, high: op.NotAfterMs}}
		case opRenew, opRelease:
			holds := w.held && w.holder == op.Node && w.gen == op.Gen
			next := w
			if holds {
				next.high = max(w.high, op.LastMs)
				if op.Kind == opRenew {
					next.expires = max(w.expires, max(op.NowMs, op.LastMs)+op.TTLMs)
				} else {
					next.held, next.expires = false, 0
				}
			}
			switch op.Outcome {
			case unknown:
				return slices.Compact([]any{w, next})
			case applied:
				if !holds || op.Kind == opRenew && (op.ExpiresMs != next.expires || op.NotAfterMs != next.high) {
					return nil
				}
				return []any{next}
			}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		op := input.(grantOp)
		return fmt.Sprintf("%s %s w%d g%d -> %s g%d (%d, %d]", op.Kind, op.Node, op.Worker, op.OutGen, op.Outcome, op.OutGen, op.NotAfterMs, op.ExpiresMs)
	},
}

// blockModel is the sequential specification of sequence blocks: each
// block starts at or after the end of the one before (a block allocated
// twice by a retried propose is skipped, never handed out).
var blockModel = porcupine.Model{
	Init: func() any { return uint64(0) },
	Step: func(state, input, output any) (bool, any) {
		next, op := state.(uint64), input.(grantOp)
		if op.Start < next || op.End != op.Start+op.Size {
			return false, nil
		}
		return true, op.End
	},
	DescribeOperation: func(input, output any) string {
		op := input.(grantOp)
		return fmt.Sprintf("allocate %s %d -> [%d, %d)", op.Node, op.Size, op.Start, op.End)
	},
}

// historyReport is what checkHistory found.
type historyReport struct {
	ops, grants, blocks, ids, codes int
	omitted                         int // refused acquires and commands without an answer left out
	// overlapIDs are IDs a node issued after its worker ID had been
	// granted to another node (two holders at once in real time): each
	// must be below the new holder's start.
	overlapIDs int
	violations []string
}

func (r *historyReport) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

// checkHistory checks a recorded history: porcupine on the lease history
// of each worker ID and on the block history, then every ID against the
// grants of the node that issued it (its timestamp inside a window
// (NotAfterMs, end of the lease as the node was told] of that worker ID
// granted to that node: the holder fenced itself) and every code against
// the node's blocks, and no ID or code twice.
func checkHistory(ops []grantOp, out []issued, timeout time.Duration) historyReport {
	var r historyReport
	r.ops = len(ops)
	end := int64(math.MaxInt64)
	byWorker := map[uint16][]porcupine.Operation{}
	var blocks []porcupine.Operation
	procs := map[string]int{}
	for _, op := range ops {
		client, ok := procs[op.Proc]
		if !ok {
			client = len(procs)
			procs[op.Proc] = client
		}
		ret := op.Return
		if ret == 0 {
			ret = end // never returned: concurrent with everything after its call
		}
		pop := porcupine.Operation{ClientId: client, Input: op, Output: op, Call: op.Call, Return: ret}
		switch {
		case op.Kind == opAllocate && op.Outcome == applied:
			blocks = append(blocks, pop)
			r.blocks++
		case op.Kind == opAcquire && op.Outcome == applied:
			byWorker[op.OutWorker] = append(byWorker[op.OutWorker], pop)
			r.grants++
		case (op.Kind == opRenew || op.Kind == opRelease) && op.Outcome != refused:
			byWorker[op.Worker] = append(byWorker[op.Worker], pop)
		default:
			r.omitted++
		}
	}
	model := leaseModel.ToModel()
	workers := make([]uint16, 0, len(byWorker))
	for w := range byWorker {
		workers = append(workers, w)
	}
	slices.Sort(workers)
	for _, w := range workers {
		switch res := porcupine.CheckOperationsTimeout(model, byWorker[w], timeout); res {
		case porcupine.Illegal:
			r.violate("worker %d: the lease history is not linearizable (%d ops): %s", w, len(byWorker[w]), describe(byWorker[w]))
		case porcupine.Unknown:
			r.violate("worker %d: the linearizability check timed out after %v", w, timeout)
		}
	}
	switch res := porcupine.CheckOperationsTimeout(blockModel, blocks, timeout); res {
	case porcupine.Illegal:
		r.violate("the block history is not linearizable (%d blocks)", len(blocks))
	case porcupine.Unknown:
		r.violate("the block linearizability check timed out after %v", timeout)
	}

	// Each node's windows per worker ID and its blocks.
	type window struct {
		gen       uint64
		lo, hi    int64 // (lo, hi]
		acquiredN int
	}
	windows := map[string]map[uint16]map[uint64]*window{} // node -> worker -> gen
	nodeBlocks := map[string][][2]uint64{}
	for _, op := range ops {
		if op.Outcome != applied {
			continue
		}
		switch op.Kind {
		case opAcquire, opRenew:
			worker := op.OutWorker
			if op.Kind == opRenew {
				worker = op.Worker
			}
			if windows[op.Node] == nil {
				windows[op.Node] = map[uint16]map[uint64]*window{}
			}
			if windows[op.Node][worker] == nil {
				windows[op.Node][worker] = map[uint64]*window{}
			}
			w := windows[op.Node][worker][op.OutGen]
			if w == nil {
				w = &window{gen: op.OutGen, lo: math.MaxInt64, hi: math.MinInt64}
				windows[op.Node][worker][op.OutGen] = w
			}
			if op.Kind == opAcquire {
				w.lo = op.NotAfterMs
			}
			w.hi = max(w.hi, op.ExpiresMs)
		case opAllocate:
			nodeBlocks[op.Node] = append(nodeBlocks[op.Node], [2]uint64{op.Start, op.End})
		}
	}
	// The grants of each worker ID, for the real-time overlaps.
	type grant struct {
		node     string
		gen      uint64
		ret      int64
		notAfter int64
	}
	grants := map[uint16][]grant{}
	for _, op := range ops {
		if op.Kind == opAcquire && op.Outcome == applied {
			grants[op.OutWorker] = append(grants[op.OutWorker], grant{op.Node, op.OutGen, op.Return, op.NotAfterMs})
		}
	}
	ids := map[int64]string{}
	seqs := map[uint64]string{}
	for _, x := range out {
		if x.Code {
			r.codes++
			if other, dup := seqs[x.Seq]; dup {
				r.violate("code of sequence number %d issued by %s and %s", x.Seq, other, x.Proc)
			}
			seqs[x.Seq] = x.Proc
			if !slices.ContainsFunc(nodeBlocks[x.Node], func(b [2]uint64) bool { return b[0] <= x.Seq && x.Seq < b[1] }) {
				r.violate("%s issued sequence number %d outside every block it was granted", x.Proc, x.Seq)
			}
			continue
		}
		r.ids++
		if other, dup := ids[x.ID]; dup {
			r.violate("ID %d issued by %s and %s", x.ID, other, x.Proc)
		}
		ids[x.ID] = x.Proc
		_, worker, _ := snowflake.Parse(x.ID)
		ms := x.ID >> (snowflake.WorkerBits + snowflake.SequenceBits)
		inside := false
		for _, w := range windows[x.Node][worker] {
			if w.lo < ms && ms <= w.hi {
				inside = true
				break
			}
		}
		if !inside {
			r.violate("%s issued ID %d (worker %d, %d ms) outside every lease of that worker ID it was granted", x.Proc, x.ID, worker, ms)
		}
		// The node's latest grant of the worker ID before the ID, and the
		// later grants of it to other nodes that it had returned by then.
		var own uint64
		for _, g := range grants[worker] {
			if g.node == x.Node && g.ret <= x.At {
				own = max(own, g.gen)
			}
		}
		overlap := false
		for _, g := range grants[worker] {
			if g.node != x.Node && g.gen > own && g.ret <= x.At {
				overlap = true
				if ms > g.notAfter {
					r.violate("%s issued ID %d (worker %d, %d ms) after the worker ID went to %s from %d ms", x.Proc, x.ID, worker, ms, g.node, g.notAfter)
				}
			}
		}
		if overlap {
			r.overlapIDs++
		}
	}
	return r
}

// describe lists a worker's ops in call order, for a violation's message.
func describe(ops []porcupine.Operation) string {
	ops = slices.Clone(ops)
	slices.SortFunc(ops, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
	var b strings.Builder
	for _, o := range ops {
		op := o.Input.(grantOp)
		fmt.Fprintf(&b, "\n  [%d, %d] %s: %s %s w%d g%d now %d -> %s w%d g%d (%d, %d] %s",
			o.Call, o.Return, op.Proc, op.Kind, op.Node, op.Worker, op.Gen, op.NowMs, op.Outcome, op.OutWorker, op.OutGen, op.NotAfterMs, op.ExpiresMs, op.Err)
	}
	return b.String()
}

// The history check on small histories: each violation it must find, and
// a legal history with a takeover, a lost answer and concurrent blocks.
func TestLeaseHistoryCheck(t *testing.T) {
	const s = int64(time.Second)
	id := func(ms int64, worker uint16, seq int64) int64 {
		return ms<<(snowflake.WorkerBits+snowflake.SequenceBits) | int64(worker)<<snowflake.SequenceBits | seq
	}
	// n1 holds worker 0 from 0 to 2,000 ms (renewed), then n2 takes it
	// over from 2,500 ms; blocks go to both.
	acquire1 := grantOp{Proc: "n1#1", Node: "n1", Kind: opAcquire, NowMs: 0, TTLMs: 1000, Outcome: applied,
		OutWorker: 0, OutGen: 1, NotAfterMs: 0, ExpiresMs: 1000, Call: 0, Return: 1 * s}
	renew1 := grantOp{Proc: "n1#1", Node: "n1", Kind: opRenew, Worker: 0, Gen: 1, NowMs: 1000, LastMs: 900, TTLMs: 1000, Outcome: applied,
		OutGen: 1, NotAfterMs: 900, ExpiresMs: 2000, Call: 2 * s, Return: 3 * s}
	acquire2 := grantOp{Proc: "n2#1", Node: "n2", Kind: opAcquire, NowMs: 2500, TTLMs: 1000, Outcome: applied,
		OutWorker: 0, OutGen: 2, NotAfterMs: 2000, ExpiresMs: 3500, Call: 4 * s, Return: 5 * s}
	block1 := grantOp{Proc: "n1#1", Node: "n1", Kind: opAllocate, Size: 50, Outcome: applied, Start: 0, End: 50, Call: 0, Return: 2 * s}
	block2 := grantOp{Proc: "n2#1", Node: "n2", Kind: opAllocate, Size: 50, Outcome: applied, Start: 50, End: 100, Call: 1 * s, Return: 3 * s}
	legal := []grantOp{acquire1, renew1, acquire2, block1, block2}
	goodOut := []issued{
		{Proc: "n1#1", Node: "n1", ID: id(10, 0, 0)},
		{Proc: "n1#1", Node: "n1", ID: id(2000, 0, 0)},
		{Proc: "n2#1", Node: "n2", ID: id(2001, 0, 0)},
		{Proc: "n1#1", Node: "n1", Seq: 49, Code: true},
		{Proc: "n2#1", Node: "n2", Seq: 50, Code: true},
	}
	with := func(ops []grantOp, change func(ops []grantOp)) []grantOp {
		ops = slices.Clone(ops)
		change(ops)
		return ops
	}
	for _, tc := range []struct {
		name string
		ops  []grantOp
		out  []issued
		want string // in the violation; empty: none
	}{
		{"legal", legal, goodOut, ""},
		{"renew answer lost, then the takeover", with(legal, func(ops []grantOp) {
			ops[1].Outcome, ops[1].Return, ops[1].Err = unknown, 0, "context deadline exceeded"
			ops[2].NowMs, ops[2].NotAfterMs, ops[2].ExpiresMs = 1500, 1000, 2500 // before the renew's end
		}), goodOut[3:], ""},
		{"retried acquire applied twice", with(legal, func(ops []grantOp) { ops[2].OutGen = 3 }), goodOut, ""},
		{"taken over before the lease ran out", with(legal, func(ops []grantOp) { ops[2].NowMs = 1999 }), nil, "not linearizable"},
		{"takeover starting inside the old lease", with(legal, func(ops []grantOp) { ops[2].NotAfterMs, ops[2].ExpiresMs = 1500, 3500 }), nil, "not linearizable"},
		{"renewed by a node that lost it", append(slices.Clone(legal), grantOp{Proc: "n1#1", Node: "n1", Kind: opRenew, Worker: 0, Gen: 1,
			NowMs: 2600, TTLMs: 1000, Outcome: applied, OutGen: 1, ExpiresMs: 3600, Call: 6 * s, Return: 7 * s}), nil, "not linearizable"},
		{"overlapping blocks", with(legal, func(ops []grantOp) { ops[4].Start, ops[4].End = 40, 90 }), nil, "block history"},
		{"block behind an earlier one", with(legal, func(ops []grantOp) {
			ops[4].Call, ops[4].Return = 3*s, 4*s
			ops[3].Start, ops[3].End, ops[4].Start, ops[4].End = 50, 100, 0, 50
		}), nil, "block history"},
		{"ID past the fence", legal, []issued{{Proc: "n1#1", Node: "n1", ID: id(2001, 0, 1)}}, "outside every lease"},
		{"ID under another node's worker ID", legal, []issued{{Proc: "n2#1", Node: "n2", ID: id(10, 0, 1)}}, "outside every lease"},
		{"ID twice", legal, []issued{goodOut[0], {Proc: "n1#2", Node: "n1", ID: goodOut[0].ID}}, "issued by n1#1 and n1#2"},
		{"ID after a takeover, below the new holder's start", legal, []issued{{Proc: "n1#1", Node: "n1", ID: id(1999, 0, 0), At: 6 * s}}, ""},
		{"ID after a takeover, inside the new holder's lease", with(legal, func(ops []grantOp) {
			ops[2].NotAfterMs, ops[2].OutGen = 1900, 3 // and a hidden acquire (gen 2) to let it pass porcupine
		}), []issued{{Proc: "n1#1", Node: "n1", ID: id(1999, 0, 0), At: 6 * s}}, "after the worker ID went to n2"},
		{"code twice", legal, []issued{goodOut[3], goodOut[3]}, "sequence number 49 issued by"},
		{"code outside the node's blocks", legal, []issued{{Proc: "n2#1", Node: "n2", Seq: 10, Code: true}}, "outside every block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := checkHistory(tc.ops, tc.out, 10*time.Second)
			got := strings.Join(r.violations, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Fatalf("violations in a legal history:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("violations %q, want one about %q", got, tc.want)
			}
		})
	}
}
