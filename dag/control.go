package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Flow-control limits.
const (
	// MaxControlKeyBytes is the longest a concurrency or rate key may be,
	// template and rendered key alike.
	MaxControlKeyBytes = 256
)

// Concurrency limits how many leaves holding Key run at once across the
// whole fleet: at most Limit. Key is a literal or a template over the
// workflow input and the leaf's args ("embed:{{input.codebase}}").
type Concurrency struct {
	Key   string `json:"key"`
	Limit int    `json:"limit"`
}

// Rate limits how often leaves holding Key start across the whole fleet: at
// most Limit starts in any window of length Per. Key is a template like
// Concurrency's.
type Rate struct {
	Key   string   `json:"key"`
	Limit int      `json:"limit"`
	Per   Duration `json:"per"`
}

// Retry is when a failed attempt of a leaf is tried again: after Base
// (constant) or Base·2^(attempt-1) (exponential), at most Max, and, with
// Jitter, a random duration between half of that and all of it.
type Retry struct {
	Backoff string   `json:"backoff"`
	Base    Duration `json:"base"`
	Max     Duration `json:"max,omitempty"`
	Jitter  bool     `json:"jitter,omitempty"`
}

// Control are the flow-control settings that a leaf, a group (for all its
// leaves) or Defaults may set. Nil means not set: the leaf takes its
// nearest enclosing group's, else the defaults'.
type Control struct {
	Concurrency *Concurrency `json:"concurrency,omitempty"`
	Rate        *Rate        `json:"rate,omitempty"`
	Retry       *Retry       `json:"retry,omitempty"`
}

// field makes the setting a spec key names (concurrency, rate, retry) and
// returns it for a decoder to fill; nil when key names none.
func (c *Control) field(key string) any {
	switch key {
	case "concurrency":
		c.Concurrency = &Concurrency{}
		return c.Concurrency
	case "rate":
		c.Rate = &Rate{}
		return c.Rate
	case "retry":
		c.Retry = &Retry{}
		return c.Retry
	}
	return nil
}

// inherit fills the settings c does not set from outer.
func (c Control) inherit(outer Control) Control {
	if c.Concurrency == nil {
		c.Concurrency = outer.Concurrency
	}
	if c.Rate == nil {
		c.Rate = outer.Rate
	}
	if c.Retry == nil {
		c.Retry = outer.Retry
	}
	return c
}

func (c Control) set() bool { return c.Concurrency != nil || c.Rate != nil || c.Retry != nil }

// Backoff names.
const (
	BackoffExponential = "exponential"
	BackoffConstant    = "constant"
)

// ConcurrencyLimit is a leaf's resolved concurrency limit: its key rendered.
type ConcurrencyLimit struct {
	Key   string
	Limit int
}

// RateLimit is a leaf's resolved rate limit: its key rendered.
type RateLimit struct {
	Key   string
	Limit int
	Per   time.Duration
}

// controlFields are the fields of each flow-control object, for the
// unknown-field suggestion.
var controlFields = map[string][]string{
	"concurrency": {"key", "limit"},
	"rate":        {"key", "limit", "per"},
	"retry":       {"backoff", "base", "max", "jitter"},
}

// decodeControl decodes the JSON form of a flow-control object (name is
// concurrency, rate or retry) strictly into dst. It returns the sentinel
// and message of the first problem, or nil.
func decodeControl(name string, raw []byte, dst any) (error, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		return nil, ""
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return ErrUnknownField, unknownField(f, controlFields[name])
	}
	if errors.Is(err, ErrInvalidDuration) {
		return ErrInvalidDuration, strings.TrimPrefix(msg, ErrInvalidDuration.Error()+": ")
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return ErrInvalidSpec, fmt.Sprintf("%s must be %s, found %s", te.Field, jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	return ErrInvalidSpec, msg
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int":
		return "a whole number"
	case "bool":
		return "true or false"
	}
	return "a " + kind
}

// checkControl reports invalid flow-control settings of a node (path) or
// of the defaults (prefix "defaults").
func (c *compiler) checkControl(path, prefix string, ctl *Control) {
	if k := ctl.Concurrency; k != nil {
		f := fieldName(prefix, "concurrency")
		if k.Limit < 1 {
			c.errs.addf(path, f+".limit", ErrInvalidLimit, "must be at least 1 (got %d)", k.Limit)
		}
		c.checkKeyTemplate(path, f+".key", k.Key)
	}
	if r := ctl.Rate; r != nil {
		f := fieldName(prefix, "rate")
		if r.Limit < 1 {
			c.errs.addf(path, f+".limit", ErrInvalidLimit, "must be at least 1 (got %d)", r.Limit)
		}
		if r.Per <= 0 {
			c.errs.add(path, f+".per", ErrInvalidDuration, `is required: a positive duration such as "1s"`)
		}
		c.checkKeyTemplate(path, f+".key", r.Key)
	}
	if r := ctl.Retry; r != nil {
		f := fieldName(prefix, "retry")
		if r.Backoff != BackoffExponential && r.Backoff != BackoffConstant {
			c.errs.addf(path, f+".backoff", ErrInvalidBackoff, "unknown backoff %q (want exponential or constant)", truncate(r.Backoff))
		}
		if r.Base <= 0 {
			c.errs.add(path, f+".base", ErrInvalidDuration, `is required: a positive duration such as "1s"`)
		}
		if r.Max != 0 && r.Max < r.Base {
			c.errs.addf(path, f+".max", ErrInvalidDuration, "%s is less than base %s", r.Max, r.Base)
		}
	}
}

// keyVar matches one template variable; keyBraces finds every {{...}}.
var (
	keyVar    = regexp.MustCompile(`^(input|args)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$`)
	keyBraces = regexp.MustCompile(`\{\{([^{}]*)\}\}`)
)

// checkKeyTemplate reports a key template that is empty, too long, or uses
// something other than {{input.F}} and {{args.F}}.
func (c *compiler) checkKeyTemplate(path, field, tmpl string) {
	switch {
	case tmpl == "":
		c.errs.add(path, field, ErrInvalidKeyTemplate, "is required")
		return
	case len(tmpl) > MaxControlKeyBytes:
		c.errs.addf(path, field, ErrInvalidKeyTemplate, "is %d bytes, more than %d", len(tmpl), MaxControlKeyBytes)
		return
	}
	for _, m := range keyBraces.FindAllStringSubmatch(tmpl, -1) {
		if v := strings.TrimSpace(m[1]); !keyVar.MatchString(v) {
			c.errs.addf(path, field, ErrInvalidKeyTemplate, "unknown template variable %q (want {{input.FIELD}} or {{args.FIELD}})", truncate(v))
			return
		}
	}
	rest := keyBraces.ReplaceAllString(tmpl, "")
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		c.errs.add(path, field, ErrInvalidKeyTemplate, "has an unmatched {{ or }}")
	}
}

// renderKey renders a key template checked by checkKeyTemplate with the
// workflow input and the leaf's args. A variable whose field is missing,
// null, an object or a list is an error.
func renderKey(tmpl string, input, args []byte) (string, string) {
	var problem string
	out := keyBraces.ReplaceAllStringFunc(tmpl, func(s string) string {
		m := keyVar.FindStringSubmatch(strings.TrimSpace(s[2 : len(s)-2]))
		if m == nil {
			return s
		}
		src := input
		if m[1] == "args" {
			src = args
		}
		v := gjson.GetBytes(src, escapePath(m[2]))
		switch v.Type {
		case gjson.String:
			return v.Str
		case gjson.Number, gjson.True, gjson.False:
			return v.Raw
		}
		if problem == "" {
			what := "no field " + strconv.Quote(m[2])
			if v.Exists() {
				what = "field " + strconv.Quote(m[2]) + " is " + v.Type.String() + ", not a string, number or boolean"
				if v.IsObject() || v.IsArray() {
					what = "field " + strconv.Quote(m[2]) + " is not a string, number or boolean"
				}
			}
			problem = fmt.Sprintf("{{%s.%s}}: %s has %s", m[1], m[2], m[1], what)
		}
		return ""
	})
	if problem == "" && len(out) > MaxControlKeyBytes {
		problem = fmt.Sprintf("renders to %d bytes, more than %d", len(out), MaxControlKeyBytes)
	}
	return out, problem
}

// escapePath escapes gjson's special characters other than the dot.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?|#@\!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// checkNotBefore parses a not_before time (RFC 3339).
func parseNotBefore(s string) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, strconv.Quote(truncate(s)) + " is not an RFC 3339 time such as 2026-12-02T00:00:00Z"
	}
	return t.UTC(), ""
}

// hashControl writes flow-control settings into the canonical form; it
// writes nothing when none is set, so specs without them keep their hash.
func (w *hashWriter) control(ctl Control, delay Duration, notBefore string, deadline Duration) {
	if !ctl.set() && delay == 0 && notBefore == "" && deadline == 0 {
		return
	}
	w.str("flow-control")
	if k := ctl.Concurrency; k != nil {
		w.str("c")
		w.str(k.Key)
		w.int(int64(k.Limit))
	}
	if r := ctl.Rate; r != nil {
		w.str("r")
		w.str(r.Key)
		w.int(int64(r.Limit))
		w.int(int64(r.Per))
	}
	if r := ctl.Retry; r != nil {
		w.str("b")
		w.str(r.Backoff)
		w.int(int64(r.Base))
		w.int(int64(r.Max))
		if r.Jitter {
			w.int(1)
		} else {
			w.int(0)
		}
	}
	w.str("t")
	w.int(int64(delay))
	w.str(notBefore)
	w.int(int64(deadline))
}

// leafFlow is a leaf's resolved flow control.
type leafFlow struct {
	concurrency *ConcurrencyLimit
	rate        *RateLimit
	retry       *Retry
	delay       time.Duration
	notBefore   time.Time
}

// validKeyTemplate reports whether checkKeyTemplate accepts tmpl (its
// problem was reported where the setting is written).
func validKeyTemplate(tmpl string) bool {
	var c compiler
	c.checkKeyTemplate("", "", tmpl)
	return len(c.errs.errs) == 0
}

// resolveFlow renders a leaf's keys and reads its delay and not_before.
// Problems of an inherited setting itself were reported where it is
// written; only what depends on this leaf (a template field its args lack)
// is reported here.
func (c *compiler) resolveFlow(it *item) {
	n, path := it.node, it.path
	f := &it.flow
	if k := it.ctl.Concurrency; k != nil && k.Limit >= 1 && validKeyTemplate(k.Key) {
		key, problem := renderKey(k.Key, c.input, it.args)
		if problem != "" {
			c.errs.add(path, "concurrency.key", ErrInvalidKeyTemplate, problem)
		}
		f.concurrency = &ConcurrencyLimit{Key: key, Limit: k.Limit}
	}
	if r := it.ctl.Rate; r != nil && r.Limit >= 1 && r.Per > 0 && validKeyTemplate(r.Key) {
		key, problem := renderKey(r.Key, c.input, it.args)
		if problem != "" {
			c.errs.add(path, "rate.key", ErrInvalidKeyTemplate, problem)
		}
		f.rate = &RateLimit{Key: key, Limit: r.Limit, Per: time.Duration(r.Per)}
	}
	f.retry = it.ctl.Retry
	if n.Delay < 0 {
		c.errs.addf(path, "delay", ErrInvalidDuration, "%s must be positive", time.Duration(n.Delay))
	}
	f.delay = time.Duration(n.Delay)
	if n.NotBefore != "" {
		t, problem := parseNotBefore(n.NotBefore)
		if problem != "" {
			c.errs.add(path, "not_before", ErrInvalidTime, problem)
		}
		f.notBefore = t
	}
}
