package notify

import (
	"context"
	"fmt"
	"net/smtp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SMTP sends through an SMTP server (the seed's exim), without auth: the
// server is the installation's own relay.
type SMTP struct {
	// Addr is host:port.
	Addr string
}

// Send implements Mailer.
func (s SMTP) Send(_ context.Context, m Message) error {
	msg := "From: " + m.From + "\r\nTo: " + m.To + "\r\nSubject: " + oneLine(m.Subject) +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) +
		"\r\nMessage-ID: <" + strings.ReplaceAll(m.ID, "#", ".") + "@orbit>" +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(m.Body, "\n", "\r\n")
	if err := smtp.SendMail(s.Addr, nil, m.From, []string{m.To}, []byte(msg)); err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	return nil
}

func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

// SESClient is the part of *sesv2.Client SES uses.
type SESClient interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

var _ SESClient = (*sesv2.Client)(nil)

// SES sends through Amazon SES (the aws shape).
type SES struct{ Client SESClient }

// Send implements Mailer.
func (s SES) Send(ctx context.Context, m Message) error {
	_, err := s.Client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(oneLine(m.Subject))},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(m.Body)}},
		}},
	})
	if err != nil {
		return fmt.Errorf("ses: %w", err)
	}
	return nil
}
