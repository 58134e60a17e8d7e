package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/joho/godotenv"
)

// ErrDotEnv is wrapped by every error ParseDotEnv returns for a file it
// cannot read as a .env file.
var ErrDotEnv = errors.New("malformed line: want KEY=VALUE, with KEY made of letters, digits, _ and . (quote a value that holds # after a space, $, or a quote)")

// dotEnvKey is a name godotenv accepts and os.Setenv can set.
var dotEnvKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.]+$`) })

// ParseDotEnv reads the text of a .env file with github.com/joho/godotenv
// (v1.5.1): KEY=VALUE lines (also `export KEY=VALUE` and `KEY: VALUE`),
// blank lines and lines starting with # skipped; an unquoted value ends at
// a # that follows white space (an inline comment) and is trimmed, and
// "KEY= # comment" sets KEY empty (godotenv alone would keep the comment);
// 'single-quoted' values are taken literally; "double-quoted" ones may
// span lines and expand \n; unquoted and double-quoted values expand
// ${NAME} and $NAME from the variables above them in the same file (an
// unknown one becomes empty), so a secret holding $ goes in single quotes.
//
// name is used in errors only. A file godotenv cannot read, or that sets
// an empty name, gives an error "name:N: " followed by ErrDotEnv's text,
// where N (1-based) is the first line from which no longer prefix of the
// file reads: the error quotes nothing of the file, whose values are
// secrets.
func ParseDotEnv(name string, data []byte) (map[string]string, error) {
	vars, err := parseDotEnv(data)
	if err == nil {
		return vars, nil
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	bad := 1
	for n := len(lines) - 1; n >= 1; n-- {
		if _, err := parseDotEnv(bytes.Join(lines[:n], nil)); err == nil {
			bad = n + 1
			break
		}
	}
	return nil, fmt.Errorf("%s:%d: %w", name, bad, ErrDotEnv)
}

// parseDotEnv is godotenv's parser, refusing the names it lets through
// that are not names (an empty one, from a line "=value").
func parseDotEnv(data []byte) (map[string]string, error) {
	vars, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, err
	}
	for k, v := range vars {
		if !dotEnvKey().MatchString(k) {
			return nil, ErrDotEnv
		}
		if strings.HasPrefix(v, "#") && emptyWithComment(data, k, v) {
			vars[k] = ""
		}
	}
	return vars, nil
}

// emptyWithComment reports whether the value v that godotenv read for key
// is a comment after an empty value: a line "KEY= # comment", which
// godotenv reads as "# comment" but a shell (and the reader) as empty,
// since a # after white space starts a comment. "KEY=#value", without the
// space, keeps its value.
func emptyWithComment(data []byte, key, v string) bool {
	re := regexp.MustCompile(`(?m)^[ \t]*(?:export[ \t]+)?` + regexp.QuoteMeta(key) + `[ \t]*[=:][ \t]+(#[^\r\n]*)\r?$`)
	for _, m := range re.FindAllSubmatch(data, -1) {
		if strings.TrimRight(string(m[1]), " \t\v\f") == v {
			return true
		}
	}
	return false
}

// ReadDotEnv reads the .env file at path (see ParseDotEnv) into the process
// environment, where every command looks its configuration up, and the AWS
// SDK its own variables (AWS_REGION, AWS_PROFILE, …). The environment
// wins: a variable already set, even to an empty value, is left as it is,
// as godotenv.Load does. It returns the names it set, sorted. A missing
// file is not an error.
func ReadDotEnv(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	vars, err := ParseDotEnv(path, data)
	if err != nil {
		return nil, err
	}
	var set []string
	for k, v := range vars {
		if _, ok := os.LookupEnv(k); ok {
			continue
		}
		if err := os.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("%s: set %s: %w", path, k, err)
		}
		set = append(set, k)
	}
	sort.Strings(set)
	return set, nil
}
