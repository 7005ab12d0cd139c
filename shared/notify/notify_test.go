package notify_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/notify"
	"github.com/orbit-ci/orbit/shared/notify/smtptest"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/testenv"
)

type env struct {
	t  *testing.T
	st *store.Store
	n  *notify.Notifier
}

func newEnv(t *testing.T, m notify.Mailer) *env {
	kvs, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { kvs.Close() })
	st := store.New(kvs, nil)
	n, err := notify.New(notify.Config{KV: kvs, Pipelines: st, Mailer: m, From: "orbit@example.com", BaseURL: "http://orbit.test"})
	require.NoError(t, err)
	st.Observe(n)
	_, err = st.CreateProject(t.Context(), store.Project{Slug: "local/acme/api", Name: "api", VCS: "local"})
	require.NoError(t, err)
	return &env{t: t, st: st, n: n}
}

// run stores a pipeline on branch triggered by actor and takes its
// workflow "ci" to the status to.
func (e *env) run(actor, branch string, to status.Workflow) {
	ctx := e.t.Context()
	p, err := e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api", Trigger: store.Trigger{Type: "api", Actor: actor},
		VCS: store.PipelineVCS{Branch: branch}})
	require.NoError(e.t, err)
	w := store.Workflow{ID: p.ID + "-ci", Name: "ci", PipelineID: p.ID, ProjectSlug: p.ProjectSlug, Status: status.WorkflowRunning, CreatedAt: time.Now()}
	require.NoError(e.t, e.st.CreateWorkflow(ctx, w, nil))
	_, err = e.st.TransitionWorkflow(ctx, w.ID, func(*store.Workflow) (status.Workflow, error) { return to, nil })
	require.NoError(e.t, err)
}

func TestFailedAndFixedMails(t *testing.T) {
	srv := smtptest.New(t)
	e := newEnv(t, notify.SMTP{Addr: srv.Addr})
	ctx := t.Context()
	require.NoError(t, e.n.SetUser(ctx, "ada", notify.UserSetting{Email: "ada@example.com", Enabled: true}))

	e.run("ada", "main", status.WorkflowSuccess)  // first success: nothing to say
	e.run("ada", "main", status.WorkflowFailed)   // failed
	e.run("ada", "topic", status.WorkflowSuccess) // another branch: not a fix
	e.run("ada", "main", status.WorkflowSuccess)  // fixed
	e.run("ada", "main", status.WorkflowSuccess)  // still fine: nothing
	e.run("bob", "main", status.WorkflowFailed)   // bob has no setting: no mail
	sent, err := e.n.Send(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, sent)

	mails := srv.Mails()
	require.Len(t, mails, 2)
	subjects := []string{}
	for _, m := range mails {
		assert.Equal(t, []string{"ada@example.com"}, m.To)
		assert.Equal(t, "orbit@example.com", m.From)
		assert.Contains(t, m.Data, "http://orbit.test/ui/pipeline/")
		for _, line := range splitLines(m.Data) {
			if len(line) > 9 && line[:9] == "Subject: " {
				subjects = append(subjects, line[9:])
			}
		}
	}
	assert.ElementsMatch(t, []string{"Failed: local/acme/api workflow ci on main", "Fixed: local/acme/api workflow ci on main"}, subjects)

	// Sent mails are gone from the outbox.
	sent, err = e.n.Send(ctx)
	require.NoError(t, err)
	assert.Zero(t, sent)
}

func TestSettingsTurnMailsOff(t *testing.T) {
	tests := []struct {
		name    string
		user    notify.UserSetting
		project *notify.ProjectSetting
		want    int
	}{
		{name: "both on", user: notify.UserSetting{Email: "a@x.org", Enabled: true}, want: 1},
		{name: "user off", user: notify.UserSetting{Email: "a@x.org", Enabled: false}, want: 0},
		{name: "project off", user: notify.UserSetting{Email: "a@x.org", Enabled: true}, project: &notify.ProjectSetting{Enabled: false}, want: 0},
		{name: "project on", user: notify.UserSetting{Email: "a@x.org", Enabled: true}, project: &notify.ProjectSetting{Enabled: true}, want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.New(t)
			e := newEnv(t, notify.SMTP{Addr: srv.Addr})
			require.NoError(t, e.n.SetUser(t.Context(), "ada", tc.user))
			if tc.project != nil {
				require.NoError(t, e.n.SetProject(t.Context(), "local/acme/api", *tc.project))
			}
			e.run("ada", "main", status.WorkflowFailed)
			_, err := e.n.Send(t.Context())
			require.NoError(t, err)
			assert.Len(t, srv.Mails(), tc.want)
		})
	}
	e := newEnv(t, nil)
	assert.ErrorIs(t, e.n.SetUser(t.Context(), "ada", notify.UserSetting{Email: "nobody", Enabled: true}), notify.ErrInvalid)
}

func TestFailedSendIsRetried(t *testing.T) {
	srv := smtptest.New(t)
	e := newEnv(t, notify.SMTP{Addr: srv.Addr})
	require.NoError(t, e.n.SetUser(t.Context(), "ada", notify.UserSetting{Email: "ada@example.com", Enabled: true}))
	e.run("ada", "main", status.WorkflowFailed)
	srv.SetReject(true)
	_, err := e.n.Send(t.Context())
	require.Error(t, err)
	srv.SetReject(false)
	sent, err := e.n.Send(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, sent)
	assert.Len(t, srv.Mails(), 1)
}

func TestSESOnMoto(t *testing.T) {
	ep := testenv.Need(t, "ORBIT_MOTO_ENDPOINT", "start moto_server (scripts/test.sh does)")
	client := sesv2.NewFromConfig(aws.Config{Region: "eu-west-3", BaseEndpoint: aws.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	ctx := context.Background()
	from := "orbit-" + time.Now().Format("150405.000000") + "@example.com"
	m := notify.Message{ID: "w#failed", From: from, To: "ada@example.com", Subject: "Failed: x", Body: "body"}
	err := notify.SES{Client: client}.Send(ctx, m)
	require.Error(t, err, "moto refuses an unverified sender, as SES does")
	_, err = client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)})
	require.NoError(t, err)
	require.NoError(t, notify.SES{Client: client}.Send(ctx, m))
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		line := s[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		out = append(out, line)
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
