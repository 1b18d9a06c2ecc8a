package signature

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The Standard Webhooks reference vector (the spec's libraries' tests).
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignVector(t *testing.T) {
	key, err := Key(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(key, vecID, vecTS, []byte(vecBody)); got != vecSig {
		t.Fatalf("Sign = %s, want %s", got, vecSig)
	}
	h := http.Header{}
	SetHeaders(h, key, vecID, time.Unix(vecTS, 0), []byte(vecBody))
	if h.Get(HeaderSignature) != vecSig || h.Get(HeaderTimestamp) != strconv.Itoa(vecTS) || h.Get(HeaderID) != vecID {
		t.Fatalf("SetHeaders = %v", h)
	}
}

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	for k, v := range map[string]string{HeaderID: id, HeaderTimestamp: ts, HeaderSignature: sig} {
		if v != "" {
			h.Set(k, v)
		}
	}
	return h
}

func TestVerify(t *testing.T) {
	at := time.Unix(vecTS, 0)
	ts := strconv.Itoa(vecTS)
	for _, tc := range []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"vector", vecSecret, headers(vecID, ts, vecSig), vecBody, at, nil},
		{"no prefix on the secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers(vecID, ts, vecSig), vecBody, at, nil},
		{"one of several", vecSecret, headers(vecID, ts, "v1,Zm9v v1a,abc "+vecSig), vecBody, at, nil},
		{"within the tolerance", vecSecret, headers(vecID, ts, vecSig), vecBody, at.Add(4 * time.Minute), nil},
		{"too old", vecSecret, headers(vecID, ts, vecSig), vecBody, at.Add(6 * time.Minute), ErrTimestamp},
		{"from the future", vecSecret, headers(vecID, ts, vecSig), vecBody, at.Add(-6 * time.Minute), ErrTimestamp},
		{"body changed", vecSecret, headers(vecID, ts, vecSig), `{"test": 2432232315}`, at, ErrMismatch},
		{"id changed", vecSecret, headers("msg_other", ts, vecSig), vecBody, at, ErrMismatch},
		{"timestamp changed", vecSecret, headers(vecID, strconv.Itoa(vecTS+1), vecSig), vecBody, at, ErrMismatch},
		{"other version only", vecSecret, headers(vecID, ts, "v2,"+vecSig[3:]), vecBody, at, ErrMismatch},
		{"signature not base64", vecSecret, headers(vecID, ts, "v1,!!!"), vecBody, at, ErrMismatch},
		{"other secret", "whsec_" + "c2VjcmV0", headers(vecID, ts, vecSig), vecBody, at, ErrMismatch},
		{"no id", vecSecret, headers("", ts, vecSig), vecBody, at, ErrHeaders},
		{"no timestamp", vecSecret, headers(vecID, "", vecSig), vecBody, at, ErrHeaders},
		{"no signature", vecSecret, headers(vecID, ts, ""), vecBody, at, ErrHeaders},
		{"timestamp not a number", vecSecret, headers(vecID, "yesterday", vecSig), vecBody, at, ErrHeaders},
		{"secret not base64", "whsec_%%%", headers(vecID, ts, vecSig), vecBody, at, ErrSecret},
		{"empty secret", "whsec_", headers(vecID, ts, vecSig), vecBody, at, ErrSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Verify(tc.secret, tc.h, []byte(tc.body), tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %q, %v; want %v", id, err, tc.want)
			}
			if err == nil && id != tc.h.Get(HeaderID) {
				t.Fatalf("Verify = %q, want the header's id", id)
			}
		})
	}
}

func TestVerifyWithinNoTolerance(t *testing.T) {
	h := headers(vecID, strconv.Itoa(vecTS), vecSig)
	if _, err := VerifyWithin(vecSecret, h, []byte(vecBody), time.Now(), 0); err != nil {
		t.Fatal(err)
	}
}

// FuzzVerify feeds Verify arbitrary headers: it never panics, and
// accepts only what Sign made.
func FuzzVerify(f *testing.F) {
	f.Add(vecID, strconv.Itoa(vecTS), vecSig, vecBody)
	f.Add("", "", "", "")
	f.Add("msg_x", "-1", "v1,", "x")
	f.Add("msg_x", "99999999999999999999", "v1,,v1, v1", "")
	key, _ := Key(vecSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		got, err := VerifyWithin(vecSecret, headers(id, ts, sig), []byte(body), time.Now(), 0)
		if err != nil {
			return
		}
		n, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil || got != id {
			t.Fatalf("accepted id %q ts %q", id, ts)
		}
		_ = Sign(key, id, n, []byte(body))
	})
}
