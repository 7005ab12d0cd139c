package compose

import (
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/orbit-ci/orbit/shared/notify"
)

// LocalUser receives the mails of pipelines with no actor (a git hook's,
// a schedule's) in the embedded shape: the local admin `orbit up` creates.
const LocalUser = "admin"

// Notifier mails workflow failures and fixes, watching the store's status
// changes from the first call on: SMTP when Notify.SMTPAddr is set, else
// SES when Notify.SES, else mails wait unsent.
func (a *Assembly) Notifier() (*notify.Notifier, error) {
	if a.notifier != nil {
		return a.notifier, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	kvs := a.kvs // the store's kv (Store set it), in either shape
	var mailer notify.Mailer
	switch {
	case a.cfg.Notify.SMTPAddr != "":
		mailer = notify.SMTP{Addr: a.cfg.Notify.SMTPAddr}
	case a.cfg.Notify.SES && a.awsCfg != nil:
		mailer = notify.SES{Client: sesv2.NewFromConfig(*a.awsCfg)}
	}
	cfg := notify.Config{KV: kvs, Pipelines: st, Mailer: mailer, From: a.cfg.Notify.From, BaseURL: a.cfg.BaseURL,
		Logger: a.log.With("component", "notify")}
	if a.cfg.Shape == Embedded {
		cfg.DefaultActor = LocalUser
	}
	n, err := notify.New(cfg)
	if err != nil {
		return nil, err
	}
	st.Observe(n)
	a.notifier = n
	return n, nil
}
