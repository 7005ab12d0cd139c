package agent

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMasker(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		writes  []string // each is masked with final=false, then the rest with final=true
		want    string
	}{
		{name: "no secrets", writes: []string{"plain"}, want: "plain"},
		{name: "whole", secrets: []string{"hunter2"}, writes: []string{"pw=hunter2;"}, want: "pw=********;"},
		{name: "split", secrets: []string{"hunter2"}, writes: []string{"pw=hun", "ter2;"}, want: "pw=********;"},
		{name: "split in three", secrets: []string{"hunter2"}, writes: []string{"h", "unte", "r2"}, want: "********"},
		{name: "false prefix released", secrets: []string{"hunter2"}, writes: []string{"hunt", "ing"}, want: "hunting"},
		{name: "prefix at the end", secrets: []string{"hunter2"}, writes: []string{"x hunt"}, want: "x hunt"},
		{name: "longest wins", secrets: []string{"abc", "abcdef"}, writes: []string{"abcdef abc"}, want: "******** ********"},
		{name: "repeated", secrets: []string{"aa"}, writes: []string{"aaaaa"}, want: "****************a"},
		{name: "empty secret ignored", secrets: []string{""}, writes: []string{"text"}, want: "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMasker(tt.secrets)
			var got strings.Builder
			var pending []byte
			for _, w := range tt.writes {
				out, rest := m.mask(append(pending, w...), false)
				got.Write(out)
				pending = rest
			}
			out, rest := m.mask(pending, true)
			got.Write(out)
			assert.Empty(t, rest)
			assert.Equal(t, tt.want, got.String())
		})
	}
}
