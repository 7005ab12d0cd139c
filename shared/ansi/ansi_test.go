package ansi

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHTML(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain text is escaped", `<script>alert("x")&</script>`, `&lt;script&gt;alert(&#34;x&#34;)&amp;&lt;/script&gt;`},
		{"16 colours and reset", "\x1b[31mred\x1b[0m plain", `<span class="a-f1">red</span> plain`},
		{"bright and background", "\x1b[92;104mx\x1b[m", `<span class="a-f10 a-b12">x</span>`},
		{"bold and normal", "\x1b[1mB\x1b[22mN", `<span class="a-bold">B</span>N`},
		{"256 colours", "\x1b[38;5;208mo\x1b[48;5;17mb", `<span class="a-f208">o</span><span class="a-f208 a-b17">b</span>`},
		{"truecolor to nearest", "\x1b[38;2;255;135;0mt", `<span class="a-f208">t</span>`},
		{"default fg and bg", "\x1b[31;42ma\x1b[39mb\x1b[49mc", `<span class="a-f1 a-b2">a</span><span class="a-b2">b</span>c`},
		{"empty parameter resets", "\x1b[31mA\x1b[;1mB", `<span class="a-f1">A</span><span class="a-bold">B</span>`},
		{"other CSI dropped", "a\x1b[2Kb\x1b[?25lc", "abc"},
		{"OSC dropped", "a\x1b]0;title\x07b\x1b]8;;http://x\x1b\\c", "abc"},
		{"two-byte escape dropped", "a\x1b(Bb", "ab"},
		{"unfinished escape dropped", "a\x1b[31", "a"},
		{"control characters dropped", "a\x00b\x08c\td", "abc\td"},
		{"carriage return starts over", "10%\r\x1b[32m100%", `<span class="a-f2">100%</span>`},
		{"state carries across lines", "\x1b[31mone\ntwo\x1b[0m\nthree", "<span class=\"a-f1\">one</span>\n<span class=\"a-f1\">two</span>\nthree"},
		{"malformed extended colour", "\x1b[38;5mx\x1b[38;2;1mx\x1b[38;9mx", "xxx"},
		{"out-of-range colour ignored", "\x1b[38;5;300mx", "x"},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, HTML(tc.in))
		})
	}
}

func TestRendererKeepsState(t *testing.T) {
	r := NewRenderer()
	assert.Equal(t, `<span class="a-f3 a-bold">w</span>`, r.Line("\x1b[1;33mw"))
	assert.Equal(t, State{FG: 3, BG: none, Bold: true}, r.State)
	assert.Equal(t, `<span class="a-f3 a-bold">next</span>`, r.Line("next"))
}

func TestNearest256(t *testing.T) {
	assert.Equal(t, 16, Nearest256(0, 0, 0))
	assert.Equal(t, 231, Nearest256(255, 255, 255))
	assert.Equal(t, 196, Nearest256(250, 5, 5))
	assert.Equal(t, 244, Nearest256(128, 128, 128))
	for n := 16; n < 256; n++ {
		r, g, b := RGB(n)
		pr, pg, pb := RGB(Nearest256(r, g, b))
		assert.Equal(t, [3]uint8{r, g, b}, [3]uint8{pr, pg, pb}, "palette colour %d maps to itself", n)
	}
}

func TestCSSHasEveryClass(t *testing.T) {
	css := CSS()
	for _, c := range []string{".a-bold", ".a-f0 ", ".a-f255 ", ".a-b0 ", ".a-b255 "} {
		assert.Contains(t, css, c)
	}
	assert.Contains(t, css, ".a-f208 { color:#ff8700; }")
	assert.NotContains(t, css, "style=")
}

// markup is the only markup the renderer writes: spans with its classes.
var markup = regexp.MustCompile(`<span class="(a-(f|b)\d{1,3} ?|a-bold ?)+">|</span>`)

// FuzzHTML: whatever the output, the HTML has no markup but the
// renderer's spans, balanced, and no raw control characters or escapes.
func FuzzHTML(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred\x1b[0m", "<b>&</b>", "\x1b[38;2;1;2;3;48;5;9;1m\"'x", "\x1b]0;t\x07\x1b[", "a\rb\n\x1b[K", "\xff\xfe<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := HTML(in)
		rest := markup.ReplaceAllString(out, "")
		if strings.ContainsAny(rest, "<>\"\x1b\r") {
			t.Fatalf("HTML(%q) = %q: unescaped markup or control characters", in, out)
		}
		if strings.Count(out, "<span") != strings.Count(out, "</span>") {
			t.Fatalf("HTML(%q) = %q: unbalanced spans", in, out)
		}
		for _, r := range rest {
			if r < 0x20 && r != '\n' && r != '\t' {
				t.Fatalf("HTML(%q) = %q: control character %U", in, out, r)
			}
		}
		// An ampersand only starts an entity.
		if regexp.MustCompile(`&($|[^a-z#]|[a-z#]+[^a-z0-9;])`).MatchString(rest) {
			t.Fatalf("HTML(%q) = %q: bare ampersand", in, out)
		}
	})
}
