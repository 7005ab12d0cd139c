// Package queue is Orbit's message-queue port, shaped after SQS standard
// queues: at-least-once delivery, a visibility timeout per receive, explicit
// delete, delayed send and a dead-letter queue after too many receives.
//
// Contract every driver honours (pinned down by queuetest.Run):
//
//   - Send stores the message; with Delay > 0 it becomes receivable only after
//     the delay. A Delay above 15 minutes is an error. SQS works in whole
//     seconds: its driver rounds delays, waits and visibility timeouts up.
//   - Receive returns up to Max visible messages (at least 1, at most 10). With
//     Wait > 0 it long-polls: it returns as soon as at least one message is
//     visible, with none and a nil error when Wait elapses, or with none and an
//     error matching ctx.Err() when ctx ends. A received message is invisible
//     for the visibility timeout (ReceiveOptions.Visibility, or the queue's
//     default), then becomes visible again (redelivery) unless deleted. Max
//     above 10 is treated as 10 and Wait above 20 s as 20 s.
//   - ReceiveCount counts deliveries, starting at 1. When a message would be
//     delivered for the (MaxReceives+1)th time and the queue has a dead-letter
//     queue, it is moved there instead (SQS redrive policy).
//   - Extend sets a received message's remaining invisibility to d from now
//     (d = 0 makes it visible at once); Delete removes it. Both take the
//     receipt of the latest delivery. A receipt that names no message in the
//     queue returns ErrReceiptInvalid from Extend; Delete of a message that is
//     already gone is a no-op (nil) or ErrReceiptInvalid.
//   - A stale receipt (the message was redelivered since) is driver-defined:
//     the embedded driver refuses it (ErrReceiptInvalid, nothing changes), but
//     SQS keeps a message's older receipts usable, so there Extend and Delete
//     may act on the message. Callers must not rely on a stale receipt being
//     refused; handlers are idempotent instead. Whenever a driver returns
//     ErrReceiptInvalid it has changed nothing.
//   - Order is best effort (roughly first in, first out), not guaranteed.
//   - All methods are safe for concurrent use.
package queue

import (
	"context"
	"errors"
	"time"
)

// ErrReceiptInvalid means the receipt handle does not name a message in flight
// (or, for drivers that can tell, names an older delivery of one).
var ErrReceiptInvalid = errors.New("queue: receipt handle is invalid or expired")

// Message is one delivery of a message.
type Message struct {
	// ID is the message's id, stable across deliveries.
	ID string
	// Body is what was sent: 1 byte to 256 KiB of UTF-8 text made of the
	// characters SQS accepts (JSON in practice); Send refuses anything else
	// so that the embedded driver cannot accept what SQS would reject. Larger
	// payloads belong in the blob store, with their key in the message.
	Body []byte
	// Receipt identifies this delivery, for Extend and Delete.
	Receipt string
	// ReceiveCount is how many times the message has been delivered, this
	// delivery included.
	ReceiveCount int
	// SentAt is when the message was sent.
	SentAt time.Time
}

// SendOptions tune Send.
type SendOptions struct {
	// Delay postpones the first delivery (at most 15 minutes, as SQS).
	Delay time.Duration
}

// ReceiveOptions tune Receive.
type ReceiveOptions struct {
	// Max is how many messages to return at most (1..10); 0 means 1.
	Max int
	// Wait is the long-poll time (at most 20 s); 0 returns at once.
	Wait time.Duration
	// Visibility overrides the queue's default visibility timeout when > 0.
	Visibility time.Duration
}

// Stats describes a queue's backlog, for metrics and admin.
type Stats struct {
	// Visible is the number of messages ready to be received.
	Visible int
	// InFlight is the number received and not yet deleted or visible again.
	InFlight int
	// Delayed is the number not yet visible because of a send delay.
	Delayed int
}

// Queue is the queue port.
type Queue interface {
	Send(ctx context.Context, body []byte, opts SendOptions) (id string, err error)
	Receive(ctx context.Context, opts ReceiveOptions) ([]Message, error)
	Extend(ctx context.Context, receipt string, d time.Duration) error
	Delete(ctx context.Context, receipt string) error
	Stats(ctx context.Context) (Stats, error)
}
