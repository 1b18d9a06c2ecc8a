package smartlink

import (
	"encoding/json"
	"fmt"
)

// MarshalStored returns the stored form of o: JSON with the tags of
// Options, or nil for a plain link (the stores keep NULL, so that plain
// links cost nothing).
func (o Options) MarshalStored() ([]byte, error) {
	if o.IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("smartlink: encode options: %w", err)
	}
	return b, nil
}

// ParseStored reads what MarshalStored wrote; nil or empty is a plain link.
// It refuses options that do not pass Validate, so that a damaged row
// reads as an error instead of a link that misbehaves.
func ParseStored(b []byte) (Options, error) {
	var o Options
	if len(b) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return Options{}, fmt.Errorf("smartlink: decode stored options: %w", err)
	}
	if err := o.Validate(); err != nil {
		return Options{}, fmt.Errorf("smartlink: stored options: %w", err)
	}
	return o, nil
}
