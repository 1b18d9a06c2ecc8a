package fsm

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// How commands evolve (docs/decisions/0002-fsm-command-evolution.md).
//
// A cluster is upgraded one node at a time, so for a while an older node
// applies commands a newer leader wrote. The rule that keeps the replicas
// equal:
//
//   - A command's payload is decoded tolerantly: a field this version does
//     not know is ignored. A new field may therefore be added without
//     anything else only when ignoring it leaves the same state (and the
//     same response) as applying it: a note for logs, a hint.
//   - A field that changes what Apply does is marked with the struct tag
//     fsm:"since=N", N being the CommandVersion that introduced it. When
//     such a field is set (not its zero value), Encode writes the reserved
//     member "_min_version": N into the payload. A new command type is
//     listed with the version that introduced it, and Encode writes that
//     version too.
//   - A node whose CommandVersion is below a command's _min_version, or
//     that does not know the command's type, cannot apply it. Skipping it
//     would make the replicas diverge, so the FSM halts instead (see
//     ApplyError, FSM.Halted): it applies nothing more, refuses to
//     snapshot, and the cluster package shuts the node down with a message
//     naming the command and the version it needs. After an upgrade the
//     node replays the log from its last snapshot and goes on.
//
// Decode, which the leader runs on commands that followers forward,
// refuses the same commands with an error wrapping ErrNeedsNewerVersion,
// so that they never reach this node's log.

// CommandVersion is the version of the command language this FSM applies.
// Bump it whenever a command type is added or a field that changes Apply
// gets a fsm:"since" tag, and say so in the command's doc comment.
//
// Version 2 added the workspace and custom domain commands and
// KeyEntry.Workspace.
const CommandVersion = 2

// minVersionMember is the reserved payload member that carries the lowest
// CommandVersion able to apply a command. No command field may use the
// name (TestReservedMemberUnused). It is omitted when every version can
// apply the command, so version-1 payloads are what they always were.
const minVersionMember = "_min_version"

// ErrNeedsNewerVersion is wrapped by the error of a command that this
// version cannot apply: its type is unknown here, or it uses a field that
// this version does not know and must not ignore.
var ErrNeedsNewerVersion = errors.New("command needs a newer Shortify version")

// ApplyError describes a log entry the FSM cannot apply. Once Apply meets
// one, the FSM halts: Apply answers every later entry with the same error
// and changes nothing, and Snapshot refuses.
type ApplyError struct {
	// Index is the entry's index in the Raft log.
	Index uint64
	// Type is the entry's command type byte (zero for an empty entry).
	Type CommandType
	// Need is the CommandVersion the command says it needs; 0 when it
	// does not say.
	Need int
	// Err is the reason, wrapping ErrNeedsNewerVersion when a newer
	// version would apply the entry.
	Err error
	// version is the CommandVersion of the FSM that met the entry; 0
	// means CommandVersion.
	version int
}

// Error implements error, saying what to do.
func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fsm: cannot apply Raft log entry %d (%s command", e.Index, e.Type)
	if e.Need > 0 {
		fmt.Fprintf(&b, ", needs command version %d", e.Need)
	}
	fmt.Fprintf(&b, "; this node applies version %d): %v", cmp.Or(e.version, CommandVersion), e.Err)
	if errors.Is(e.Err, ErrNeedsNewerVersion) {
		b.WriteString("; upgrade this node to the release the other members run")
	} else {
		b.WriteString("; the log entry is malformed, restore the node from a healthy member")
	}
	return b.String()
}

// Unwrap returns the reason.
func (e *ApplyError) Unwrap() error { return e.Err }

// decodeEntry decodes a command as it is in the log: its type byte and
// its JSON payload, for an FSM that applies CommandVersion version. need
// is the version the payload says it needs (0 when it does not say).
func decodeEntry(data []byte, version int) (c Command, cmd command, need int, err error) {
	if len(data) == 0 {
		return nil, command{}, 0, errors.New("empty command")
	}
	t := CommandType(data[0])
	need, err = payloadNeed(data[1:])
	if err != nil {
		return nil, command{}, 0, err
	}
	cmd, ok := commands[t]
	if !ok || cmd.since > version {
		return nil, command{}, need, fmt.Errorf("%w: unknown command type %d", ErrNeedsNewerVersion, uint8(t))
	}
	if need > version {
		return nil, command{}, need, fmt.Errorf("%w: %s uses something version %d added", ErrNeedsNewerVersion, t, need)
	}
	c, err = cmd.decode(data[1:])
	if err != nil {
		return nil, command{}, need, err
	}
	return c, cmd, need, nil
}

// payloadNeed checks that a payload is exactly one JSON object and
// returns its _min_version (0 when absent). It reads no command type's
// fields, so it works for types this version does not know.
func payloadNeed(payload []byte) (int, error) {
	var obj map[string]json.RawMessage
	if err := decodeOne(payload, &obj); err != nil {
		return 0, err
	}
	if obj == nil {
		return 0, errors.New("payload is not a JSON object")
	}
	raw, ok := obj[minVersionMember]
	if !ok {
		return 0, nil
	}
	need, err := strconv.Atoi(string(raw))
	if err != nil || need < 1 {
		return 0, fmt.Errorf("%s is %s, want a positive integer", minVersionMember, raw)
	}
	return need, nil
}

// decodeOne decodes exactly one JSON value into v, tolerating unknown
// object members (a newer version's ignorable fields).
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the command")
	}
	return nil
}

// needs returns the lowest CommandVersion able to apply c: the version
// that introduced its type, raised by every fsm:"since=N" field c sets.
func needs(c Command) (int, error) {
	cmd, ok := commands[c.Type()]
	if !ok {
		return 0, fmt.Errorf("unknown command type %d", uint8(c.Type()))
	}
	need, err := fieldsNeed(reflect.ValueOf(c))
	if err != nil {
		return 0, err
	}
	return max(cmd.since, need), nil
}

// fieldsNeed walks a value (structs, pointers, slices) for fields tagged
// fsm:"since=N" that are set, and returns the highest such N (1 if none).
func fieldsNeed(v reflect.Value) (int, error) {
	need := 1
	raise := func(v reflect.Value) error {
		n, err := fieldsNeed(v)
		need = max(need, n)
		return err
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return need, raise(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			break // []byte: no fields inside
		}
		for i := range v.Len() {
			if err := raise(v.Index(i)); err != nil {
				return 0, err
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			since, err := sinceTag(f)
			if err != nil {
				return 0, err
			}
			if since > 0 && !v.Field(i).IsZero() {
				need = max(need, since)
			}
			if err := raise(v.Field(i)); err != nil {
				return 0, err
			}
		}
	}
	return need, nil
}

// sinceTag reads a field's fsm:"since=N" tag; 0 when it has none.
func sinceTag(f reflect.StructField) (int, error) {
	tag, ok := f.Tag.Lookup("fsm")
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(tag, "since="))
	if err != nil || n < 1 || !strings.HasPrefix(tag, "since=") {
		return 0, fmt.Errorf("field %s has the fsm tag %q, want since=N", f.Name, tag)
	}
	return n, nil
}
