package outhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// Headers of a delivery, as CircleCI sends them.
const (
	SignatureHeader = "Circleci-Signature"
	EventTypeHeader = "Circleci-Event-Type"
	UserAgent       = "CircleCI-Webhook/1.0"
)

// Sign is the circleci-signature header's value for body: "v1=" and the
// hex HMAC-SHA256 of the body under the webhook's secret. A receiver
// computes the same and compares in constant time.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// maxPerSend bounds the deliveries one Send tries, so a backlog cannot
// hold a cron invocation past its minute.
const maxPerSend = 200

// Result is what one Send did.
type Result struct {
	// Delivered were answered 2xx; Failed will be tried again; Dropped
	// were given up (MaxAttempts reached, or their webhook deleted).
	Delivered, Failed, Dropped int
}

// Send tries every delivery that is due, oldest first within the outbox's
// order. Call it often (each minute in the cron Lambda, every few seconds
// in `orbit up`); a failed try waits for its backoff, not for the next
// call. It returns the kv's errors; a receiver's failure is counted, not
// returned.
func (s *Service) Send(ctx context.Context) (Result, error) {
	var res Result
	q := kv.Query{PK: outboxPK, Limit: 100}
	tried := 0
	for tried < maxPerSend {
		page, err := s.cfg.KV.Query(ctx, q)
		if err != nil {
			return res, fmt.Errorf("outbound webhooks outbox: %w", err)
		}
		for _, it := range page.Items {
			if tried >= maxPerSend || ctx.Err() != nil {
				return res, ctx.Err()
			}
			var d delivery
			if err := json.Unmarshal(it.Data, &d); err != nil {
				return res, fmt.Errorf("outbound webhooks outbox %s: %w", it.SK, err)
			}
			if d.NextAt.After(s.now()) {
				continue
			}
			tried++
			if err := s.try(ctx, it, d, &res); err != nil {
				return res, err
			}
		}
		if page.Cursor == "" {
			return res, nil
		}
		q.Cursor = page.Cursor
	}
	return res, nil
}

// try claims one delivery and POSTs it.
func (s *Service) try(ctx context.Context, it kv.Item, d delivery, res *Result) error {
	h, err := s.cfg.Records.GetWebhook(ctx, d.WebhookID)
	if errors.Is(err, store.ErrNotFound) {
		res.Dropped++
		return s.cfg.KV.Delete(ctx, outboxPK, d.ID, kv.Condition{IfVersion: it.Version})
	}
	if err != nil {
		return err
	}
	d.Attempts++
	d.NextAt = s.now().Add(s.backoff(d.Attempts))
	claimed, err := s.put(ctx, d, it.Version)
	if errors.Is(err, kv.ErrConflict) {
		return nil // another sender claimed it
	}
	if err != nil {
		return err
	}
	postErr := s.post(ctx, h, d)
	if postErr == nil {
		res.Delivered++
		if err := s.cfg.KV.Delete(ctx, outboxPK, d.ID, kv.Condition{IfVersion: claimed.Version}); err != nil && !errors.Is(err, kv.ErrConflict) {
			return err
		}
		return nil
	}
	log := s.cfg.Logger.With("delivery_id", d.ID, "webhook_id", h.ID, "event", d.Event, "attempt", d.Attempts)
	if d.Attempts >= s.cfg.MaxAttempts {
		res.Dropped++
		log.ErrorContext(ctx, "outbound webhook delivery given up", "error", postErr)
		return s.cfg.KV.Delete(ctx, outboxPK, d.ID, kv.Condition{IfVersion: claimed.Version})
	}
	res.Failed++
	log.WarnContext(ctx, "outbound webhook delivery failed; it is tried again", "next_at", d.NextAt, "error", postErr)
	d.LastError = postErr.Error()
	if _, err := s.put(ctx, d, claimed.Version); err != nil && !errors.Is(err, kv.ErrConflict) {
		return err
	}
	return nil
}

func (s *Service) put(ctx context.Context, d delivery, version int64) (kv.Item, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return kv.Item{}, err
	}
	return s.cfg.KV.Put(ctx, kv.Item{PK: outboxPK, SK: d.ID, Data: data}, kv.Condition{IfVersion: version})
}

// post sends one try; any answer but 2xx is a failure.
func (s *Service) post(ctx context.Context, h store.Webhook, d delivery) error {
	secret, err := s.open(ctx, h)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(EventTypeHeader, d.Event)
	req.Header.Set(SignatureHeader, Sign(secret, d.Body))
	client := s.verify
	if !h.VerifyTLS {
		client = s.insecure
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // only drains for reuse
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// insecureClient is for webhooks with verify-tls off: the receiver's
// certificate is not checked (the webhook's owner chose so).
func insecureClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the webhook's verify-tls is off
	return &http.Client{Timeout: timeout, Transport: t}
}
