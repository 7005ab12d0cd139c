package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// A matrix invokes a job once per combination of its parameters' values,
// as CircleCI does: parameters are taken in name order, the first varying
// slowest, and a combination without a `name` is called
// `<job>-<value>-<value>…` in that order, so
//
//	matrix: {parameters: {version: ["0.1", "0.2"], platform: [macos, linux]}}
//
// gives build-macos-0.1, build-macos-0.2, build-linux-0.1, build-linux-0.2.
// `exclude` drops combinations; `alias` (default: the job's name) lets
// `requires` name every job of the matrix at once. `<< matrix.x >>` may be
// used anywhere in the invocation (name, requires, arguments, …).

// maxMatrixJobs bounds one matrix's combinations.
const maxMatrixJobs = 1024

// matrixDef is a parsed matrix.
type matrixDef struct {
	alias  string
	combos []*matrixCombo
}

// matrixCombo is one combination.
type matrixCombo struct {
	// values are the parameters' values by name; texts their text in
	// parameter-name order (the default name's parts).
	values map[string]*yaml.Node
	texts  []string
	// args are the values as job arguments.
	args []pair
}

// matrixParam is one matrix parameter with its values.
type matrixParam struct {
	name   string
	k      *yaml.Node
	values []*yaml.Node
}

var matrixKeys = []string{"parameters", "exclude", "alias"}

// parseMatrix parses a `matrix` and lists its combinations.
func (c *compiler) parseMatrix(n *yaml.Node, key string) *matrixDef {
	p := c.parser
	n = c.subst(n, c.pipeVars(p), &keyPath{name: key})
	kvs, ok := p.mapping(n, key)
	if !ok {
		return nil
	}
	p.checkKeys(kvs, key, matrixKeys...)
	m := &matrixDef{}
	var params []matrixParam
	var exclude *yaml.Node
	for _, kv := range kvs {
		fkey := joinKey(key, kv.key)
		switch kv.key {
		case "alias":
			m.alias, _ = p.str(kv.v, fkey)
		case "exclude":
			exclude = kv.v
		case "parameters":
			pkvs, ok := p.mapping(kv.v, fkey)
			if !ok {
				return nil
			}
			for _, pkv := range pkvs {
				vkey := joinKey(fkey, pkv.key)
				items, ok := p.sequence(pkv.v, vkey)
				if !ok {
					return nil
				}
				if len(items) == 0 {
					p.at(pkv.v, vkey, "must list at least one value")
					return nil
				}
				params = append(params, matrixParam{name: pkv.key, k: pkv.k, values: items})
			}
		}
	}
	if len(params) == 0 {
		p.at(n, joinKey(key, "parameters"), "is required: a matrix needs at least one parameter with values")
		return nil
	}
	slices.SortFunc(params, func(a, b matrixParam) int { return strings.Compare(a.name, b.name) })
	total := 1
	for _, mp := range params {
		total *= len(mp.values)
		if total > maxMatrixJobs {
			p.at(n, key, "matrix has more than %d combinations", maxMatrixJobs)
			return nil
		}
	}
	excluded := c.parseExclude(exclude, joinKey(key, "exclude"), params)
	idx := make([]int, len(params))
	for range total {
		combo := &matrixCombo{values: make(map[string]*yaml.Node, len(params))}
		for i, mp := range params {
			v := mp.values[idx[i]]
			combo.values[mp.name] = v
			text, ok := scalarText(v)
			if !ok {
				text = describe(v)
			}
			combo.texts = append(combo.texts, text)
			combo.args = append(combo.args, pair{mp.name, mp.k, v})
		}
		if !slices.ContainsFunc(excluded, func(ex map[string]string) bool { return combo.matches(ex) }) {
			m.combos = append(m.combos, combo)
		}
		for i := len(idx) - 1; i >= 0; i-- { // the last parameter varies fastest
			idx[i]++
			if idx[i] < len(params[i].values) {
				break
			}
			idx[i] = 0
		}
	}
	if len(m.combos) == 0 {
		p.at(n, key, "exclude removes every combination of the matrix")
		return nil
	}
	return m
}

// parseExclude reads `exclude`: combinations, each a mapping of matrix
// parameters to values.
func (c *compiler) parseExclude(n *yaml.Node, key string, params []matrixParam) []map[string]string {
	if n == nil {
		return nil
	}
	p := c.parser
	items, ok := p.sequence(n, key)
	if !ok {
		return nil
	}
	var out []map[string]string
	for i, item := range items {
		ikey := indexKey(key, i)
		kvs, ok := p.mapping(item, ikey)
		if !ok {
			continue
		}
		ex := map[string]string{}
		for _, kv := range kvs {
			if !slices.ContainsFunc(params, func(mp matrixParam) bool { return mp.name == kv.key }) {
				p.at(kv.k, joinKey(ikey, kv.key), "%q is not a parameter of the matrix", kv.key)
				continue
			}
			text, ok := scalarText(kv.v)
			if !ok {
				p.at(kv.v, joinKey(ikey, kv.key), "must be a value, not %s", describe(kv.v))
				continue
			}
			ex[kv.key] = text
		}
		out = append(out, ex)
	}
	return out
}

// matches reports whether the combination has every value of ex.
func (m *matrixCombo) matches(ex map[string]string) bool {
	if len(ex) == 0 {
		return false
	}
	for name, want := range ex {
		got, _ := scalarText(m.values[name])
		if got != want {
			return false
		}
	}
	return true
}
