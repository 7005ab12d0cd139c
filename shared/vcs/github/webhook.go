package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v93/github"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// Webhook errors; the handler answers them 401 (signature) or 400.
var (
	// ErrSignature: X-Hub-Signature-256 is missing, malformed or wrong.
	ErrSignature = errors.New("webhook signature")
	// ErrPayload: the delivery is not a well-formed event of its type.
	ErrPayload = errors.New("webhook payload")
)

// VerifySignature checks header, X-Hub-Signature-256's "sha256=<hex>", as
// the HMAC-SHA256 of payload under secret, in constant time. The SHA-1
// header (X-Hub-Signature) is not accepted.
func VerifySignature(payload []byte, header string, secret []byte) error {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return fmt.Errorf("%w: X-Hub-Signature-256 missing or not sha256=<hex>", ErrSignature)
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: X-Hub-Signature-256 is not 64 hex digits", ErrSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(payload)
	if len(secret) == 0 || !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: X-Hub-Signature-256 does not match the project's webhook secret", ErrSignature)
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value GitHub sends for payload.
func Sign(payload, secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(payload)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Delivery is what a webhook asks of Orbit.
type Delivery struct {
	// Event is X-GitHub-Event: "push", "pull_request" or "ping".
	Event string
	// Owner and Repo name the repository the event is about (for a pull
	// request, the base repository).
	Owner, Repo string
	// Branch or Tag that was pushed (a pull request: its head branch, or
	// "pull/<n>" when the head is in a fork, as CircleCI names it).
	Branch, Tag string
	// Revision is the commit to build; BaseRevision the one before the push
	// (pipeline.git.base_revision).
	Revision, BaseRevision string
	// Actor is the login of who pushed or opened the pull request.
	Actor string
	// Commit is a push's head commit (head_commit: its message and
	// author); zero for a pull request, whose payload has none.
	Commit vcs.Commit
	// Fork: a pull request whose head is in a fork. Its jobs get no
	// project variables, contexts or OIDC tokens (CircleCI's default:
	// "Pass secrets to builds from forked pull requests" is off).
	Fork bool
	// Ignore, when set, says why the delivery starts no pipeline: a ping,
	// a deleted branch, a pull-request action other than opened,
	// synchronize or reopened, "[ci skip]" in the head commit.
	Ignore string
}

// skipRE matches CircleCI's skip markers in a commit message.
var skipRE = regexp.MustCompile(`(?i)\[(ci skip|skip ci)\]`)

// Parse reads a delivery of event (X-GitHub-Event). Unsupported events
// are ignored, not errors; a malformed payload of a supported event is
// ErrPayload naming the missing field.
func Parse(event string, payload []byte) (Delivery, error) {
	d := Delivery{Event: event}
	switch event {
	case "ping", "push", "pull_request":
	default:
		d.Ignore = fmt.Sprintf("event %q is not one Orbit builds", event)
		return d, nil
	}
	ev, err := gh.ParseWebHook(event, payload)
	if err != nil {
		return Delivery{}, fmt.Errorf("%w: %s: %v", ErrPayload, event, err)
	}
	switch e := ev.(type) {
	case *gh.PingEvent:
		d.Ignore = "ping"
		if r := e.GetRepo(); r != nil {
			d.Owner, d.Repo = r.GetOwner().GetLogin(), r.GetName()
		}
		return d, nil
	case *gh.PushEvent:
		return parsePush(d, e)
	case *gh.PullRequestEvent:
		return parsePull(d, e)
	}
	return Delivery{}, fmt.Errorf("%w: %s: unexpected type %T", ErrPayload, event, ev)
}

func parsePush(d Delivery, e *gh.PushEvent) (Delivery, error) {
	r := e.GetRepo()
	d.Owner, d.Repo = r.GetOwner().GetLogin(), r.GetName()
	if d.Owner == "" {
		d.Owner = r.GetOwner().GetName() // push payloads name the owner in "name"
	}
	if d.Owner == "" || d.Repo == "" {
		return Delivery{}, fmt.Errorf("%w: push: repository.owner and repository.name are required", ErrPayload)
	}
	ref := e.GetRef()
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		d.Branch = strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		d.Tag = strings.TrimPrefix(ref, "refs/tags/")
	default:
		return Delivery{}, fmt.Errorf("%w: push: ref %q is neither refs/heads/… nor refs/tags/…", ErrPayload, ref)
	}
	d.Revision, d.BaseRevision = e.GetAfter(), e.GetBefore()
	if hc := e.GetHeadCommit(); hc != nil && hc.GetID() == d.Revision {
		d.Commit = vcs.NewCommit(hc.GetMessage(), hc.GetAuthor().GetName(), hc.GetAuthor().GetEmail())
	}
	d.Actor = e.GetSender().GetLogin()
	if d.Actor == "" {
		d.Actor = e.GetPusher().GetName()
	}
	switch {
	case e.GetDeleted() || strings.Trim(d.Revision, "0") == "":
		d.Ignore = "the ref was deleted"
	case !validSHA(d.Revision):
		return Delivery{}, fmt.Errorf("%w: push: after %q is not a commit SHA", ErrPayload, d.Revision)
	case skipRE.MatchString(e.GetHeadCommit().GetMessage()):
		d.Ignore = "the head commit's message asks to skip CI ([ci skip] or [skip ci])"
	}
	return d, nil
}

func parsePull(d Delivery, e *gh.PullRequestEvent) (Delivery, error) {
	pr := e.GetPullRequest()
	base := pr.GetBase().GetRepo()
	d.Owner, d.Repo = base.GetOwner().GetLogin(), base.GetName()
	if d.Owner == "" || d.Repo == "" {
		r := e.GetRepo()
		d.Owner, d.Repo = r.GetOwner().GetLogin(), r.GetName()
	}
	if d.Owner == "" || d.Repo == "" {
		return Delivery{}, fmt.Errorf("%w: pull_request: repository.owner.login and repository.name are required", ErrPayload)
	}
	head := pr.GetHead()
	d.Revision, d.BaseRevision = head.GetSHA(), pr.GetBase().GetSHA()
	d.Branch = head.GetRef()
	if hr := head.GetRepo(); hr != nil && hr.GetFullName() != "" && hr.GetFullName() != d.Owner+"/"+d.Repo {
		d.Branch = "pull/" + strconv.Itoa(pr.GetNumber())
		d.Fork = true
	}
	d.Actor = e.GetSender().GetLogin()
	switch a := e.GetAction(); a {
	case "opened", "synchronize", "reopened":
		if !validSHA(d.Revision) || d.Branch == "" {
			return Delivery{}, fmt.Errorf("%w: pull_request: pull_request.head.sha and .ref are required", ErrPayload)
		}
	default:
		d.Ignore = fmt.Sprintf("pull_request action %q", a)
	}
	return d, nil
}

func validSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
