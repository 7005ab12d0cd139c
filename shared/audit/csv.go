package audit

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
)

// CSVColumns are the export's columns: the seed's fields; nested ones
// (actor, target, scope, payload, metadata, request) hold JSON.
var CSVColumns = []string{"id", "version", "action", "occurred_at", "success",
	"actor", "target", "scope", "payload", "metadata", "request"}

// WriteCSV writes events as the admin download: a header, then a row each.
func WriteCSV(w io.Writer, events []Event) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for _, e := range events {
		if e.Payload == nil {
			e.Payload = map[string]any{}
		}
		if e.Metadata == nil {
			e.Metadata = map[string]string{}
		}
		row := []string{e.ID, strconv.Itoa(e.Version), e.Action, e.OccurredAt.UTC().Format(TimeFormat),
			strconv.FormatBool(e.Success)}
		for _, v := range []any{e.Actor, e.Target, e.Scope, e.Payload, e.Metadata, e.Request} {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			row = append(row, string(b))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
