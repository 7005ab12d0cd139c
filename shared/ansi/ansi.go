// Package ansi renders terminal output as HTML for the job page: SGR
// sequences (16, 256 and truecolor foreground and background, bold,
// reset) become spans with classes, every other escape sequence and
// control character is dropped, and all text is HTML-escaped.
//
// Colours are classes, never style attributes (the UI's
// Content-Security-Policy forbids inline styles): "a-f<N>" and "a-b<N>"
// for foreground and background colour N of the 256-colour palette,
// "a-bold" for bold. Truecolor becomes the nearest palette colour. CSS()
// is the stylesheet that gives the classes their colours.
//
// A Renderer renders line by line and carries the SGR state from one
// line to the next, so each rendered line is self-contained HTML (its
// spans are closed) yet coloured as the terminal would show it.
package ansi

import (
	"fmt"
	"html"
	"strconv"
	"strings"
)

// none is the terminal's default colour.
const none = -1

// State is the SGR state: colours are palette indices, none (-1) is the
// terminal's default.
type State struct {
	FG, BG int
	Bold   bool
}

// Default is the state of a fresh terminal.
var Default = State{FG: none, BG: none}

// classes is the state's span classes, "" for the default state.
func (s State) classes() string {
	var c []string
	if s.FG != none {
		c = append(c, "a-f"+strconv.Itoa(s.FG))
	}
	if s.BG != none {
		c = append(c, "a-b"+strconv.Itoa(s.BG))
	}
	if s.Bold {
		c = append(c, "a-bold")
	}
	return strings.Join(c, " ")
}

// Renderer renders terminal output one line at a time.
type Renderer struct {
	// State is the SGR state after the last line rendered.
	State State
}

// NewRenderer returns a renderer in the default state.
func NewRenderer() *Renderer { return &Renderer{State: Default} }

// HTML renders text (any number of lines) from the default state.
func HTML(text string) string {
	r := NewRenderer()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = r.Line(l)
	}
	return strings.Join(lines, "\n")
}

// Line renders one line (without its newline) as escaped HTML. A carriage
// return starts the line over, as a terminal shows a progress bar.
func (r *Renderer) Line(line string) string {
	var out strings.Builder
	var text strings.Builder // text in the current state, not yet written
	flush := func() {
		if text.Len() == 0 {
			return
		}
		t := html.EscapeString(text.String())
		if c := r.State.classes(); c != "" {
			fmt.Fprintf(&out, `<span class="%s">%s</span>`, c, t)
		} else {
			out.WriteString(t)
		}
		text.Reset()
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == 0x1b:
			params, final, n := escape(line[i:])
			if final == 'm' {
				flush()
				r.State = r.State.apply(params)
			}
			i += n
		case c == '\r':
			text.Reset()
			out.Reset()
			i++
		case c == '\t' || c >= 0x20 && c != 0x7f:
			text.WriteByte(c)
			i++
		default: // other control characters
			i++
		}
	}
	flush()
	return strings.ToValidUTF8(out.String(), "\uFFFD")
}

// escape measures the escape sequence at the start of s (s[0] is ESC):
// a CSI sequence's parameters and final byte, or final 0 for any other
// sequence (OSC, ESC ( B and the like), which is dropped. An unfinished
// sequence runs to the end of s.
func escape(s string) (params string, final byte, n int) {
	if len(s) < 2 {
		return "", 0, len(s)
	}
	switch s[1] {
	case '[': // CSI: parameter bytes 0x30-0x3f, intermediates 0x20-0x2f, final 0x40-0x7e
		i := 2
		for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
			i++
		}
		p := s[2:i]
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
			return p, s[i], i + 1
		}
		return "", 0, i
	case ']': // OSC: up to BEL or ST (ESC \)
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return "", 0, i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return "", 0, i + 2
			}
		}
		return "", 0, len(s)
	}
	// Other escapes: intermediates 0x20-0x2f and a final byte (ESC ( B).
	i := 1
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	return "", 0, min(i+1, len(s))
}

// apply returns the state after an SGR sequence's parameters.
func (s State) apply(params string) State {
	if strings.ContainsAny(params, "<=>?") {
		return s // private sequences are not SGR
	}
	ps := strings.Split(strings.ReplaceAll(params, ":", ";"), ";")
	num := func(i int) int {
		if i >= len(ps) {
			return -1
		}
		if ps[i] == "" {
			return 0 // an empty parameter is 0
		}
		n, err := strconv.Atoi(ps[i])
		if err != nil || n > 255 {
			return -1
		}
		return n
	}
	for i := 0; i < len(ps); i++ {
		p := num(i)
		switch {
		case p == 0:
			s = Default
		case p == 1:
			s.Bold = true
		case p == 22:
			s.Bold = false
		case p >= 30 && p <= 37:
			s.FG = p - 30
		case p == 39:
			s.FG = none
		case p >= 40 && p <= 47:
			s.BG = p - 40
		case p == 49:
			s.BG = none
		case p >= 90 && p <= 97:
			s.FG = p - 90 + 8
		case p >= 100 && p <= 107:
			s.BG = p - 100 + 8
		case p == 38 || p == 48:
			c, used := extended(num, i+1)
			i += used
			if c == none {
				continue
			}
			if p == 38 {
				s.FG = c
			} else {
				s.BG = c
			}
		}
	}
	return s
}

// extended reads the colour after 38 or 48 from parameter i on (5;n or
// 2;r;g;b) and how many parameters it took; none when malformed.
func extended(num func(int) int, i int) (colour, used int) {
	switch num(i) {
	case 5:
		if n := num(i + 1); n >= 0 {
			return n, 2
		}
		return none, 2
	case 2:
		r, g, b := num(i+1), num(i+2), num(i+3)
		if r < 0 || g < 0 || b < 0 {
			return none, 4
		}
		return Nearest256(uint8(r), uint8(g), uint8(b)), 4
	}
	return none, 1
}
