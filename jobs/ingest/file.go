package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/ingest/lang"
	"github.com/quantumflow/quantumflow/internal/ingest/parse"
	"github.com/quantumflow/quantumflow/internal/ingest/scan"
)

// Skip reasons of the per-file steps, beside the scan's and lang's.
const (
	// ReasonChangedDuringIngest: the content on disk no longer has the
	// hash the scan saw; the next run picks the new content up.
	ReasonChangedDuringIngest = "changed_during_ingest"
)

// steps holds the step functions and what they share.
type steps struct {
	cfg Config

	goModules sync.Map // root → module path of root/go.mod ("" when none)
}

// fileMeta is the file a per-file step is about, passed from step to step
// in the outputs. A step that finds a reason to skip the file sets Skip;
// the later steps then do nothing but pass it on, and storage records it.
type fileMeta struct {
	Path     string `json:"path"`
	Hash     string `json:"hash"` // SHA-256, hex
	Change   string `json:"change"`
	From     string `json:"from,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Lines    int    `json:"lines,omitempty"`
	Language string `json:"language,omitempty"`
	Skip     string `json:"skip,omitempty"`
	Detail   string `json:"detail,omitempty"` // why, when the skip has an underlying error
}

// Outputs of the compute steps.
type (
	parsingOutput struct {
		fileMeta
		Outline *parse.Outline `json:"outline,omitempty"`
	}
	symbolsOutput struct {
		fileMeta
		Symbols []parse.Symbol `json:"symbols,omitempty"`
	}
	importsOutput struct {
		fileMeta
		Imports []importOut `json:"imports,omitempty"`
		Refs    []parse.Ref `json:"refs,omitempty"`
	}
	importOut struct {
		parse.Import
		Local      string   `json:"local,omitempty"`
		Candidates []string `json:"candidates,omitempty"`
	}
)

// dep decodes the output of the running node's dep id into out. A dep
// without output (it failed, or was skipped) is an error: per-file steps
// run only when their deps completed.
func dep(ctx context.Context, id string, out any) error {
	deps, err := flow.DepOutputs(ctx)
	if err != nil {
		return err
	}
	raw, ok := deps[id]
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return river.JobCancel(fmt.Errorf("dep %s has no output", id))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return river.JobCancel(fmt.Errorf("dep %s: output: %w", id, err))
	}
	return nil
}

// stepErr names the step and the file in an error.
func stepErr(step, path string, err error) error {
	return fmt.Errorf("%s of %s: %w", step, path, err)
}

// readContent reads the file of m under root and checks it still has the
// scan's hash. It returns the content, or a skip reason (and detail) for a
// file that vanished, cannot be read or changed since the scan.
func readContent(root string, m *fileMeta) (content []byte, skip, detail string) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.Path)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, scan.ReasonVanished, ""
	case err != nil:
		return nil, scan.ReasonUnreadable, err.Error()
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != m.Hash {
		return nil, ReasonChangedDuringIngest, ""
	}
	return b, "", ""
}

// content reads the file of a step that needs it; on a skip it marks m and
// returns nil.
func (s *steps) content(ctx context.Context, m *fileMeta) ([]byte, error) {
	in, _, err := runInput(ctx)
	if err != nil {
		return nil, err
	}
	b, skip, detail := readContent(in.Root, m)
	if skip != "" {
		m.Skip, m.Detail = skip, detail
		return nil, nil
	}
	return b, nil
}

// fileDetection reads the file, checks its hash against the scan's and
// outputs the file's metadata.
func (s *steps) fileDetection(ctx context.Context, job *river.Job[FileDetectionArgs]) error {
	a := job.Args
	m := fileMeta{Path: a.Path, Hash: a.Hash, Change: a.Change, From: a.From}
	b, err := s.content(ctx, &m)
	if err != nil {
		return stepErr(stepFileDetection, a.Path, err)
	}
	if m.Skip == "" {
		m.Size = int64(len(b))
		m.Lines = countLines(b)
	}
	return flow.SetOutput(ctx, m)
}

// fileValidation skips binary, invalid UTF-8, generated and minified files
// (lang.Validate).
func (s *steps) fileValidation(ctx context.Context, job *river.Job[FileValidationArgs]) error {
	var m fileMeta
	if err := dep(ctx, stepFileDetection, &m); err != nil {
		return err
	}
	if m.Skip == "" {
		b, err := s.content(ctx, &m)
		if err != nil {
			return stepErr(stepFileValidation, m.Path, err)
		}
		if b != nil {
			m.Skip = lang.Validate(m.Path, b)
		}
	}
	return flow.SetOutput(ctx, m)
}

// languageDetection names the file's language (lang.Detect).
func (s *steps) languageDetection(ctx context.Context, job *river.Job[LanguageDetectionArgs]) error {
	var m fileMeta
	if err := dep(ctx, stepFileValidation, &m); err != nil {
		return err
	}
	if m.Skip == "" {
		b, err := s.content(ctx, &m)
		if err != nil {
			return stepErr(stepLanguageDetection, m.Path, err)
		}
		if b != nil {
			m.Language = lang.Detect(m.Path, b)
		}
	}
	return flow.SetOutput(ctx, m)
}

// parsing parses the file into an outline. A language without a parser
// gives an empty outline: the file is still stored and chunked by lines.
func (s *steps) parsing(ctx context.Context, job *river.Job[ParsingArgs]) error {
	var out parsingOutput
	if err := dep(ctx, stepLanguageDetection, &out.fileMeta); err != nil {
		return err
	}
	if out.Skip == "" {
		b, err := s.content(ctx, &out.fileMeta)
		if err != nil {
			return stepErr(stepParsing, out.Path, err)
		}
		if b != nil {
			o, err := parse.Parse(out.Language, b)
			switch {
			case errors.Is(err, parse.ErrUnsupported) || (err == nil && o == nil):
				o = &parse.Outline{Language: out.Language}
			case err != nil:
				// A parser that gives up on a file is the file's problem,
				// not the run's: store it unparsed.
				o = &parse.Outline{Language: out.Language, Errors: 1}
			}
			out.Outline = o
		}
	}
	return flow.SetOutput(ctx, out)
}

// symbolExtraction derives the symbols from the outline (parse.Symbols).
func (s *steps) symbolExtraction(ctx context.Context, job *river.Job[SymbolExtractionArgs]) error {
	var in parsingOutput
	if err := dep(ctx, stepParsing, &in); err != nil {
		return err
	}
	out := symbolsOutput{fileMeta: in.fileMeta}
	if out.Skip == "" && in.Outline != nil && len(in.Outline.Decls) > 0 {
		b, err := s.content(ctx, &out.fileMeta)
		if err != nil {
			return stepErr(stepSymbolExtraction, out.Path, err)
		}
		if b != nil {
			out.Symbols = parse.Symbols(in.Outline, b)
		}
	}
	return flow.SetOutput(ctx, out)
}

// importExtraction outputs the outline's imports, each with the name the
// file uses for it and the paths it may refer to (parse.ImportCandidates),
// and its references.
func (s *steps) importExtraction(ctx context.Context, job *river.Job[ImportExtractionArgs]) error {
	var in parsingOutput
	if err := dep(ctx, stepParsing, &in); err != nil {
		return err
	}
	out := importsOutput{fileMeta: in.fileMeta}
	if out.Skip == "" && in.Outline != nil {
		module := ""
		if out.Language == "go" && len(in.Outline.Imports) > 0 {
			ri, _, err := runInput(ctx)
			if err != nil {
				return err
			}
			module = s.goModule(ri.Root)
		}
		for _, im := range in.Outline.Imports {
			out.Imports = append(out.Imports, importOut{
				Import:     im,
				Local:      localName(out.Language, im),
				Candidates: parse.ImportCandidates(out.Language, out.Path, im.Path, module),
			})
		}
		out.Refs = in.Outline.Refs
	}
	return flow.SetOutput(ctx, out)
}

// goModule returns the module path in root/go.mod ("std" for Go's own
// source tree, which declares it so), read once per root.
func (s *steps) goModule(root string) string {
	if v, ok := s.goModules.Load(root); ok {
		return v.(string)
	}
	mod := ""
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
				mod = strings.Trim(f[1], `"`)
				break
			}
		}
	}
	s.goModules.Store(root, mod)
	return mod
}

// localName is the name a file uses for an import: its alias, else what
// the language derives from the path (Go: the last element, skipping a
// major version suffix "v2"; Elixir: the whole alias; others: the last
// segment of the path).
func localName(language string, im parse.Import) string {
	if im.Alias != "" && im.Alias != "_" && im.Alias != "." && im.Alias != "*" {
		return im.Alias
	}
	p := im.Path
	switch language {
	case "elixir":
		return p
	case "go":
		elems := strings.Split(p, "/")
		last := elems[len(elems)-1]
		if len(elems) > 1 && len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
			last = elems[len(elems)-2]
		}
		if i := strings.IndexByte(last, '.'); i > 0 { // gopkg.in/yaml.v3
			last = last[:i]
		}
		return last
	}
	p = strings.TrimSuffix(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 { // a path: "./util/strings.js"
		p = p[i+1:]
		return strings.TrimSuffix(p, path.Ext(p))
	}
	return p[strings.LastIndexAny(p, ".:")+1:] // "os.path", "crate::a::b"
}

// countLines counts the lines of b (a last line without a newline counts).
func countLines(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	n := bytes.Count(b, []byte{'\n'})
	if b[len(b)-1] != '\n' {
		n++
	}
	return n
}
