package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// settings binds a command's configuration: each setting is a flag bound
// to a typed field, defaulting to its environment variable, else to its
// built-in default, so flags win over environment over defaults. A value
// that does not parse names flag and variable, wherever it came from; a bad
// variable that its flag overrides is no error.
type settings struct {
	fs     *flag.FlagSet
	getenv func(string) string
	prefix string            // in front of every flag name ("sync-" inside serve)
	names  map[string]string // flag name (no prefix) → "--flag (VARIABLE)"
	envErr map[string]error  // bad environment values, by full flag name
	errs   []error           // from check
}

func newSettings(fs *flag.FlagSet, getenv func(string) string, prefix string) *settings {
	return &settings{fs: fs, getenv: getenv, prefix: prefix, names: map[string]string{}, envErr: map[string]error{}}
}

// value is a typed flag.Value whose parse errors name the setting.
type value[T any] struct {
	dst   *T
	name  string
	parse func(string) (T, error)
	show  func(T) string
}

func (v *value[T]) String() string {
	if v == nil || v.dst == nil {
		return ""
	}
	return v.show(*v.dst)
}

func (v *value[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	*v.dst = x
	return nil
}

// bind declares one setting; kind names its type in --help.
func bind[T any](s *settings, dst *T, kind, flagName, env string, def T, help string, parse func(string) (T, error), show func(T) string) {
	full := s.prefix + flagName
	name := fmt.Sprintf("--%s (%s)", full, env)
	s.names[flagName] = name
	*dst = def
	v := &value[T]{dst: dst, name: name, parse: parse, show: show}
	if e := s.getenv(env); e != "" {
		if err := v.Set(e); err != nil {
			s.envErr[full] = err
		}
	}
	s.fs.Var(v, full, fmt.Sprintf("%s (`%s`, env %s)", help, kind, env))
}

func (s *settings) String(dst *string, flagName, env, def, help string) {
	bind(s, dst, "string", flagName, env, def, help, func(v string) (string, error) { return v, nil }, func(v string) string { return v })
}

func (s *settings) Duration(dst *time.Duration, flagName, env string, def time.Duration, help string) {
	bind(s, dst, "duration", flagName, env, def, help, func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration like 30s or 5m", v)
		}
		return d, nil
	}, time.Duration.String)
}

func (s *settings) Int(dst *int, flagName, env string, def int, help string) {
	bind(s, dst, "int", flagName, env, def, help, func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	}, strconv.Itoa)
}

func (s *settings) Float(dst *float64, flagName, env string, def float64, help string) {
	bind(s, dst, "number", flagName, env, def, help, func(v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	}, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
}

// check records a problem with a setting unless ok.
func (s *settings) check(ok bool, flagName, format string, a ...any) {
	if !ok {
		s.bad(flagName, format, a...)
	}
}

// bad records a problem with a setting.
func (s *settings) bad(flagName, format string, a ...any) {
	name := s.names[flagName]
	if name == "" {
		name = "--" + s.prefix + flagName
	}
	s.errs = append(s.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...)))
}

// err is every problem found, after the flags were parsed: bad
// environment values of settings whose flag was not given, and what check
// recorded.
func (s *settings) err() error {
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	for _, full := range slices.Sorted(maps.Keys(s.envErr)) {
		if !given[full] {
			errs = append(errs, s.envErr[full])
		}
	}
	return errors.Join(append(errs, s.errs...)...)
}
