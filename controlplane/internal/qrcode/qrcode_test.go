package qrcode_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/shortify/shortify/controlplane/internal/qrcode"
)

var levels = []qrcode.Level{qrcode.LevelL, qrcode.LevelM, qrcode.LevelQ, qrcode.LevelH}

// decode reads a QR code from img with ZXing's reader and returns its text
// and error-correction level.
func decode(t *testing.T, img image.Image) (text, level string) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code found in the %v image: %v", img.Bounds().Size(), err)
	}
	level, _ = res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return res.GetText(), level
}

func TestPNGDecodesToTheText(t *testing.T) {
	t.Parallel()
	texts := []string{
		"https://sho.rt/a9ZkQ2",
		"http://localhost:8080/" + strings.Repeat("x_-Z9", 12) + "abcd", // a 64-character alias
	}
	shapes := []struct{ size, margin int }{
		{qrcode.MinSize, 0}, {100, 1}, {qrcode.DefaultSize, qrcode.DefaultMargin}, {333, 2}, {1000, qrcode.MaxMargin}, {qrcode.MaxSize, 4},
	}
	for _, text := range texts {
		for _, level := range levels {
			for _, sh := range shapes {
				name := fmt.Sprintf("%d/%s/size=%d,margin=%d", len(text), level, sh.size, sh.margin)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					data, err := qrcode.Encode(text, qrcode.Options{Size: sh.size, Margin: sh.margin, Level: level})
					if err != nil {
						t.Fatal(err)
					}
					img, err := png.Decode(bytes.NewReader(data))
					if err != nil {
						t.Fatalf("not a PNG: %v", err)
					}
					if got := img.Bounds(); got != image.Rect(0, 0, sh.size, sh.size) {
						t.Fatalf("bounds = %v, want %dx%d", got, sh.size, sh.size)
					}
					got, gotLevel := decode(t, img)
					if got != text {
						t.Fatalf("decoded %q, want %q", got, text)
					}
					if gotLevel != string(level) {
						t.Errorf("decoded level %q, want %q (no boost)", gotLevel, level)
					}
				})
			}
		}
	}
}

func TestPNGIsOneBitGrey(t *testing.T) {
	t.Parallel()
	data, err := qrcode.Encode("https://sho.rt/abc", qrcode.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ColorModel != color.GrayModel || cfg.Width != qrcode.DefaultSize || cfg.Height != qrcode.DefaultSize {
		t.Fatalf("config %+v, want a %d-pixel grey-scale image", cfg, qrcode.DefaultSize)
	}
	// Bit depth and colour type are bytes 24 and 25, in the IHDR chunk.
	if data[24] != 1 || data[25] != 0 {
		t.Errorf("bit depth %d, colour type %d; want 1, 0", data[24], data[25])
	}
	img, _ := png.Decode(bytes.NewReader(data))
	for y := 0; y < cfg.Height; y++ {
		for x := 0; x < cfg.Width; x++ {
			if g := img.At(x, y).(color.Gray).Y; g != 0 && g != 0xff {
				t.Fatalf("pixel (%d, %d) is grey %d", x, y, g)
			}
		}
	}
	again, _ := qrcode.Encode("https://sho.rt/abc", qrcode.DefaultOptions())
	if !bytes.Equal(data, again) {
		t.Error("the same text and options gave different bytes")
	}
}

func TestMarginIsQuietZone(t *testing.T) {
	t.Parallel()
	// 4 pixels per module: the quiet zone is margin×4 pixels plus the
	// centring offset, all white; the finder pattern's corner is black.
	for _, margin := range []int{0, 1, 4, 16} {
		opts := qrcode.Options{Size: 512, Margin: margin, Level: qrcode.LevelM}
		data, err := qrcode.Encode("https://sho.rt/a9ZkQ2", opts)
		if err != nil {
			t.Fatal(err)
		}
		img, _ := png.Decode(bytes.NewReader(data))
		// Version 2 at M: 25 modules.
		n := 25 + 2*margin
		scale := 512 / n
		first := (512-n*scale)/2 + margin*scale
		for p := 0; p < first; p++ {
			if !white(img.At(p, p)) || !white(img.At(first, p)) || !white(img.At(p, first)) {
				t.Fatalf("margin %d: pixel in the quiet zone at %d is dark", margin, p)
			}
		}
		if white(img.At(first, first)) || white(img.At(first+scale-1, first+scale-1)) {
			t.Fatalf("margin %d: the finder pattern does not start at pixel %d", margin, first)
		}
	}
}

func white(c color.Color) bool {
	r, _, _, _ := c.RGBA()
	return r == 0xffff
}

// svgDoc is the part of the SVG document the tests read.
type svgDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Width   string   `xml:"width,attr"`
	Height  string   `xml:"height,attr"`
	ViewBox string   `xml:"viewBox,attr"`
	Title   string   `xml:"title"`
	Rect    struct {
		Width  string `xml:"width,attr"`
		Height string `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		D    string `xml:"d,attr"`
		Fill string `xml:"fill,attr"`
	} `xml:"path"`
}

// ParseSVG parses doc strictly and returns its modules per side and an
// image of its path drawn at scale pixels per module.
func parseSVG(t *testing.T, doc []byte, scale int) (svgDoc, int, *image.Gray) {
	t.Helper()
	var s svgDoc
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("the SVG is not XML: %v\n%s", err, doc)
	}
	var n int
	if _, err := fmt.Sscanf(s.ViewBox, "0 0 %d %d", &n, new(int)); err != nil || s.ViewBox != fmt.Sprintf("0 0 %d %d", n, n) {
		t.Fatalf("viewBox %q is not a square from the origin", s.ViewBox)
	}
	if s.Rect.Width != strconv.Itoa(n) || s.Rect.Height != strconv.Itoa(n) || s.Rect.Fill != "#fff" {
		t.Fatalf("background rect = %+v, want %d×%d white", s.Rect, n, n)
	}
	if len(s.Paths) != 1 || s.Paths[0].Fill != "#000" {
		t.Fatalf("want one black path, got %+v", s.Paths)
	}
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	// The path is a list of one-module-high runs: M x yhRUNv1h-RUNz.
	for _, run := range strings.Split(strings.TrimSuffix(s.Paths[0].D, "z"), "z") {
		var x, y, w, back int
		if _, err := fmt.Sscanf(run, "M%d %dh%dv1h-%d", &x, &y, &w, &back); err != nil || w != back || w < 1 || x+w > n || y >= n {
			t.Fatalf("path segment %q is not a run inside the symbol (%v)", run, err)
		}
		for py := y * scale; py < (y+1)*scale; py++ {
			for px := x * scale; px < (x+w)*scale; px++ {
				img.Pix[py*img.Stride+px] = 0
			}
		}
	}
	return s, n, img
}

func TestSVG(t *testing.T) {
	t.Parallel()
	const text = "https://sho.rt/a9ZkQ2"
	for _, level := range levels {
		for _, margin := range []int{0, 4, 16} {
			t.Run(fmt.Sprintf("%s/margin=%d", level, margin), func(t *testing.T) {
				t.Parallel()
				doc, err := qrcode.EncodeSVG(text, qrcode.Options{Size: 300, Margin: margin, Level: level})
				if err != nil {
					t.Fatal(err)
				}
				s, n, img := parseSVG(t, doc, 4)
				if s.Width != "300" || s.Height != "300" {
					t.Errorf("width, height = %q, %q; want 300", s.Width, s.Height)
				}
				if s.Title != text {
					t.Errorf("title = %q, want %q", s.Title, text)
				}
				if modules := n - 2*margin; modules < 21 || (modules-21)%4 != 0 {
					t.Errorf("%d modules per side is no QR version", modules)
				}
				// The path really is the symbol: drawn, it decodes.
				if got, gotLevel := decode(t, img); got != text || gotLevel != string(level) {
					t.Errorf("the drawn SVG decodes to %q at %q", got, gotLevel)
				}
			})
		}
	}
}

func TestSVGEscapesTheText(t *testing.T) {
	t.Parallel()
	text := `https://sho.rt/a"b'c<script>alert(1)</script>&amp;]]>` + "\x01"
	doc, err := qrcode.EncodeSVG(text, qrcode.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(doc, []byte("<script")) || bytes.Contains(doc, []byte("]]>")) {
		t.Fatalf("markup from the text reached the document:\n%s", doc)
	}
	s, _, img := parseSVG(t, doc, 4)
	// XML cannot hold U+0001: it becomes U+FFFD in the title, while the
	// symbol keeps the exact bytes.
	if want := strings.ReplaceAll(text, "\x01", "\uFFFD"); s.Title != want {
		t.Errorf("title = %q, want %q", s.Title, want)
	}
	if got, _ := decode(t, img); got != text {
		t.Errorf("decoded %q, want %q", got, text)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := qrcode.DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name    string
		opts    qrcode.Options
		option  string
		allowed string
	}{
		{"zero value", qrcode.Options{}, "size", "64 to 2048 pixels"},
		{"size too small", qrcode.Options{Size: 63, Level: qrcode.LevelM}, "size", "64 to 2048 pixels"},
		{"size too large", qrcode.Options{Size: 2049, Level: qrcode.LevelM}, "size", "64 to 2048 pixels"},
		{"negative margin", qrcode.Options{Size: 256, Margin: -1, Level: qrcode.LevelM}, "margin", "0 to 16 modules"},
		{"margin too wide", qrcode.Options{Size: 256, Margin: 17, Level: qrcode.LevelM}, "margin", "0 to 16 modules"},
		{"no level", qrcode.Options{Size: 256}, "level", "L, M, Q or H"},
		{"lower-case level", qrcode.Options{Size: 256, Level: "m"}, "level", "L, M, Q or H"},
		{"unknown level", qrcode.Options{Size: 256, Level: "X"}, "level", "L, M, Q or H"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			var oe *qrcode.OptionError
			if !errors.As(err, &oe) || oe.Option != tt.option || oe.Allowed != tt.allowed {
				t.Fatalf("Validate() = %v, want an OptionError for %s allowing %q", err, tt.option, tt.allowed)
			}
			if !strings.Contains(err.Error(), tt.option) || !strings.Contains(err.Error(), tt.allowed) {
				t.Errorf("message %q does not say what is wrong", err)
			}
			if _, err := qrcode.Encode("x", tt.opts); !errors.As(err, &oe) {
				t.Errorf("Encode accepted invalid options: %v", err)
			}
			if _, err := qrcode.EncodeSVG("x", tt.opts); !errors.As(err, &oe) {
				t.Errorf("EncodeSVG accepted invalid options: %v", err)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]qrcode.Level{"L": qrcode.LevelL, "m": qrcode.LevelM, "Q": qrcode.LevelQ, "h": qrcode.LevelH} {
		if got, err := qrcode.ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "X", "LM", "low", " M"} {
		var oe *qrcode.OptionError
		if _, err := qrcode.ParseLevel(in); !errors.As(err, &oe) || oe.Option != "level" || oe.Value != strconv.Quote(in) {
			t.Errorf("ParseLevel(%q) = %v, want an OptionError", in, err)
		}
	}
}

func TestSizeTooSmallForText(t *testing.T) {
	t.Parallel()
	text := "https://sho.rt/" + strings.Repeat("a", 400)
	opts := qrcode.Options{Size: 100, Margin: 16, Level: qrcode.LevelH}
	_, err := qrcode.Encode(text, opts)
	var oe *qrcode.OptionError
	var least int
	if !errors.As(err, &oe) || oe.Option != "size" {
		t.Fatalf("err = %v, want a size OptionError", err)
	}
	if _, err := fmt.Sscanf(oe.Allowed, "at least %d pixels", &least); err != nil || least <= opts.Size {
		t.Fatalf("%q does not name a minimum above %d", oe.Allowed, opts.Size)
	}
	if (least-2*opts.Margin-21)%4 != 0 {
		t.Errorf("minimum %d is not a QR version's modules plus the quiet zone", least)
	}
	opts.Size = least
	if _, err := qrcode.Encode(text, opts); err != nil {
		t.Fatalf("at exactly the minimum %d: %v", least, err)
	}
	opts.Size = least - 1
	if _, err := qrcode.EncodeSVG(text, opts); !errors.As(err, &oe) {
		t.Fatalf("one pixel below the minimum, EncodeSVG: %v", err)
	}
}

func TestTooLong(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("a", 1300)
	if _, err := qrcode.EncodeSVG(text, qrcode.Options{Size: 256, Level: qrcode.LevelH}); !errors.Is(err, qrcode.ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
	if _, err := qrcode.EncodeSVG(text, qrcode.Options{Size: 256, Level: qrcode.LevelL}); err != nil {
		t.Fatalf("1,300 bytes fit at level L: %v", err)
	}
}

func BenchmarkEncode(b *testing.B) {
	const text = "https://sho.rt/a9ZkQ2"
	for _, size := range []int{qrcode.DefaultSize, 1024, qrcode.MaxSize} {
		opts := qrcode.Options{Size: size, Margin: qrcode.DefaultMargin, Level: qrcode.LevelM}
		b.Run(fmt.Sprintf("png/size=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				data, err := qrcode.Encode(text, opts)
				if err != nil {
					b.Fatal(err)
				}
				n = len(data)
			}
			b.ReportMetric(float64(n), "bytes/image")
		})
	}
	b.Run("png/size=2048/level=H/long", func(b *testing.B) {
		b.ReportAllocs()
		long := "https://sho.rt/" + strings.Repeat("x", 64)
		opts := qrcode.Options{Size: qrcode.MaxSize, Margin: 0, Level: qrcode.LevelH}
		for b.Loop() {
			if _, err := qrcode.Encode(long, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("svg", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			data, err := qrcode.EncodeSVG(text, qrcode.DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.ReportMetric(float64(n), "bytes/image")
	})
}
