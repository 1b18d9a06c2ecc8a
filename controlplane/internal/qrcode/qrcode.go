// Package qrcode draws QR codes as PNG or SVG images, with a bounded size, a
// quiet zone and an error-correction level chosen by the caller.
//
// The symbol itself (segment encoding, Reed–Solomon, masking) comes from
// github.com/piglig/go-qr; this package only validates the options and
// renders the module matrix. Modules are always a whole number of pixels,
// so the images stay crisp at every size: any pixels left over after
// scaling widen the white border evenly.
package qrcode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	goqr "github.com/piglig/go-qr"
)

// Bounds and defaults of Options.
const (
	// MinSize is the smallest image, in pixels per side.
	MinSize = 64
	// MaxSize is the largest image, in pixels per side. It bounds the
	// work one request can cause: a 2048×2048 PNG takes about a
	// millisecond.
	MaxSize = 2048
	// DefaultSize is the image size when none is chosen.
	DefaultSize = 256
	// MaxMargin is the widest quiet zone, in modules.
	MaxMargin = 16
	// DefaultMargin is the quiet zone the QR specification asks for.
	DefaultMargin = 4
	// DefaultLevel is the error-correction level when none is chosen.
	DefaultLevel = LevelM
)

// Level is an error-correction level: the share of the symbol that can be
// damaged and still read. Its zero value is not a level.
type Level string

// The four error-correction levels of the QR specification.
const (
	LevelL Level = "L" // about 7% of the codewords can be restored
	LevelM Level = "M" // about 15%
	LevelQ Level = "Q" // about 25%
	LevelH Level = "H" // about 30%
)

const levelsAllowed = "L, M, Q or H"

// ParseLevel reads a level name ("L", "M", "Q", "H", in either case).
func ParseLevel(s string) (Level, error) {
	l := Level(strings.ToUpper(s))
	if _, ok := l.ecc(); !ok {
		return "", &OptionError{Option: "level", Value: strconv.Quote(s), Allowed: levelsAllowed}
	}
	return l, nil
}

func (l Level) ecc() (goqr.Ecc, bool) {
	switch l {
	case LevelL:
		return goqr.Low, true
	case LevelM:
		return goqr.Medium, true
	case LevelQ:
		return goqr.Quartile, true
	case LevelH:
		return goqr.High, true
	}
	return 0, false
}

// Options shape an image. Start from DefaultOptions: the zero value is not
// valid (a size of 0 pixels).
type Options struct {
	// Size is the width and height of the image: pixels for a PNG, the
	// width and height attributes (CSS pixels) of an SVG. MinSize to
	// MaxSize.
	Size int
	// Margin is the quiet zone around the symbol, in modules: 0 to
	// MaxMargin. Scanners want 4; less saves space where the background
	// is white anyway.
	Margin int
	// Level is the error-correction level.
	Level Level
}

// DefaultOptions are a 256-pixel image with a 4-module quiet zone at
// level M.
func DefaultOptions() Options {
	return Options{Size: DefaultSize, Margin: DefaultMargin, Level: DefaultLevel}
}

// Validate reports the first option out of its range as an *OptionError.
func (o Options) Validate() error {
	if o.Size < MinSize || o.Size > MaxSize {
		return &OptionError{Option: "size", Value: strconv.Itoa(o.Size), Allowed: fmt.Sprintf("%d to %d pixels", MinSize, MaxSize)}
	}
	if o.Margin < 0 || o.Margin > MaxMargin {
		return &OptionError{Option: "margin", Value: strconv.Itoa(o.Margin), Allowed: fmt.Sprintf("0 to %d modules", MaxMargin)}
	}
	if _, ok := o.Level.ecc(); !ok {
		return &OptionError{Option: "level", Value: strconv.Quote(string(o.Level)), Allowed: levelsAllowed}
	}
	return nil
}

// OptionError is an option that cannot be used: out of its range, or too
// small for the text to encode.
type OptionError struct {
	// Option is "size", "margin" or "level".
	Option string
	// Value is the refused value as text (quoted for a level).
	Value string
	// Allowed says what would be accepted, e.g. "64 to 2048 pixels".
	Allowed string
}

// Error says which option is refused and what would be accepted.
func (e *OptionError) Error() string {
	return "qrcode: " + e.Option + " " + e.Value + " is not allowed: want " + e.Allowed
}

// ErrTooLong is returned for a text that no QR code can hold at the chosen
// level (about 2,900 bytes at L, 1,270 at H).
var ErrTooLong = errors.New("qrcode: the text is too long for a QR code at this error-correction level")

// symbol is an encoded QR code laid out for drawing: the module matrix,
// the quiet zone, and the scale that fits both into the image.
type symbol struct {
	qr     *goqr.QrCode
	n      int // modules per side, quiet zone included
	scale  int // pixels per module (PNG)
	offset int // pixels of extra border before the first module (PNG)
	opts   Options
}

func encode(text string, opts Options) (*symbol, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ecc, _ := opts.Level.ecc()
	segs, err := goqr.MakeSegments(text)
	if err != nil {
		return nil, fmt.Errorf("qrcode: %w", err)
	}
	// No ECC boost: the level asked for is the level drawn, so that the
	// same options always give the same image.
	qr, err := goqr.EncodeSegments(segs, ecc, goqr.MinVersion, goqr.MaxVersion, -1, false)
	if err != nil {
		if errors.Is(err, goqr.ErrDataTooLong) {
			return nil, fmt.Errorf("%w (%d bytes)", ErrTooLong, len(text))
		}
		return nil, fmt.Errorf("qrcode: %w", err)
	}
	s := &symbol{qr: qr, n: qr.Size() + 2*opts.Margin, opts: opts}
	s.scale = opts.Size / s.n
	if s.scale < 1 {
		return nil, &OptionError{Option: "size", Value: strconv.Itoa(opts.Size),
			Allowed: fmt.Sprintf("at least %d pixels for this text (%d modules and a quiet zone of %d on each side)", s.n, qr.Size(), opts.Margin)}
	}
	s.offset = (opts.Size - s.n*s.scale) / 2
	return s, nil
}

// dark reports whether module (x, y) of the padded matrix is dark.
func (s *symbol) dark(x, y int) bool {
	return s.qr.Module(x-s.opts.Margin, y-s.opts.Margin)
}
