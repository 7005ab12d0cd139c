package local

import (
	"fmt"
	"strings"
)

// validateScope checks the graph of one scope: StartAt and every transition
// target exist in the scope, and every state is reachable from StartAt.
func (p *parser) validateScope(sc *scope, where string) {
	prefix := strings.TrimPrefix(where+" ", " ")
	if sc.StartAt != "" {
		if _, ok := sc.States[sc.StartAt]; !ok {
			p.errorf(where, "StartAt %q is not a state", sc.StartAt)
		}
	}
	for _, name := range sortedKeys(sc.States) {
		st := sc.States[name]
		for _, t := range st.targets() {
			if _, ok := sc.States[t.name]; !ok {
				p.errorf(fmt.Sprintf("%sstate %q", prefix, name), "%s %q is not a state in this scope", t.field, t.name)
			}
		}
	}
	seen := map[string]bool{}
	queue := []string{sc.StartAt}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		st, ok := sc.States[n]
		if !ok || seen[n] {
			continue
		}
		seen[n] = true
		for _, t := range st.targets() {
			queue = append(queue, t.name)
		}
	}
	for _, name := range sortedKeys(sc.States) {
		if !seen[name] {
			p.errorf(fmt.Sprintf("%sstate %q", prefix, name), "state is not reachable from StartAt %q", sc.StartAt)
		}
	}
}

type target struct{ field, name string }

// targets lists the states a state can move to.
func (st *state) targets() []target {
	var out []target
	if st.Next != "" {
		out = append(out, target{"Next", st.Next})
	}
	for i, c := range st.Choices {
		out = append(out, target{fmt.Sprintf("Choices[%d].Next", i), c.Next})
	}
	if st.Default != "" {
		out = append(out, target{"Default", st.Default})
	}
	for i, c := range st.Catch {
		if c.Next != "" {
			out = append(out, target{fmt.Sprintf("Catch[%d].Next", i), c.Next})
		}
	}
	return out
}

// checkResources verifies, at StartExecution, that every Lambda function,
// queue and nested state machine named statically by the machine is known
// to the engine, so that a missing registration fails before running.
func (e *Engine) checkResources(sc *scope, where string) error {
	prefix := strings.TrimPrefix(where+" ", " ")
	for _, name := range sortedKeys(sc.States) {
		st := sc.States[name]
		w := fmt.Sprintf("%sstate %q", prefix, name)
		for i, b := range st.Branches {
			if err := e.checkResources(b, fmt.Sprintf("%s branch %d", w, i)); err != nil {
				return err
			}
		}
		if st.Processor != nil {
			if err := e.checkResources(st.Processor, w+" ItemProcessor"); err != nil {
				return err
			}
		}
		if st.Type != "Task" || st.res.target == "" {
			continue
		}
		switch st.res.service {
		case svcLambda:
			if e.lambda(st.res.target) == nil {
				return fmt.Errorf("%w: %s: Lambda function %q is not registered", ErrInvalidDefinition, w, st.res.target)
			}
		case svcSQS:
			if e.queue(st.res.target) == nil {
				return fmt.Errorf("%w: %s: queue %q is not registered", ErrInvalidDefinition, w, st.res.target)
			}
		case svcStates:
			if e.machine(st.res.target) == nil {
				return fmt.Errorf("%w: %s: state machine %q does not exist", ErrInvalidDefinition, w, st.res.target)
			}
		}
	}
	return nil
}
