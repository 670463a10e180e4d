package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/store"
)

// Bounds of the webhooks.
const (
	// webhookTimeout bounds one attempt to POST to a webhook: connecting,
	// sending and reading the reply's header.
	webhookTimeout = 5 * time.Second
	// webhookRetries is how many times a failed POST is tried again (after
	// 1 s, 2 s, 4 s).
	webhookRetries = 3
	// webhookQueue is the deliveries that wait for one webhook; past it,
	// a delivery is dropped (with a log line) rather than held.
	webhookQueue = 256
)

// A webhookPayload is the JSON POSTed to a webhook for each message
// stored: the event, and the message's summary (null if it is already
// gone).
type webhookPayload struct {
	Event   events.Event          `json:"event"`
	Message *store.MessageSummary `json:"message"`
}

// Run sends the webhooks (Config.Webhooks) until ctx ends, then returns
// nil once every POST in progress has ended (they are cut off at once). For
// each message stored (an events.Message event of Config.Events) it POSTs a
// webhookPayload as JSON to each URL, and only to those URLs: a redirect
// is not followed, no proxy is used. An attempt that fails (no answer
// within 5 s, a 5xx or 429 status) is retried 3 times, waiting 1, 2 and 4
// seconds; a webhook that falls 256 deliveries behind loses the newest,
// with a log line. Run returns at once if there are no webhooks or no
// event feed. It must be called once at most.
func (s *Server) Run(ctx context.Context) error {
	var targets []*url.URL
	for _, raw := range s.cfg.Webhooks {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			s.log.Error("console: webhook URL ignored: not an http or https URL", "url", raw)
			continue
		}
		targets = append(targets, u)
	}
	if len(targets) == 0 || s.cfg.Events == nil {
		return nil
	}
	c, cancel := s.cfg.Events.Subscribe(webhookQueue)
	defer cancel()
	if s.runHook != nil {
		s.runHook()
	}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // never anywhere but the URL
			ResponseHeaderTimeout: s.webhookTimeout,
			TLSHandshakeTimeout:   s.webhookTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		},
		Timeout: s.webhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	queues := make([]chan events.Event, len(targets))
	for i, u := range targets {
		queues[i] = make(chan events.Event, webhookQueue)
		wg.Go(func() { s.webhookWorker(ctx, client, u.String(), queues[i]) })
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-c:
			if e.Kind != events.Message {
				continue
			}
			for i, q := range queues {
				select {
				case q <- e:
				default:
					s.log.Warn("console: webhook behind, delivery dropped", "url", targets[i].Redacted(), "id", e.ID)
				}
			}
		}
	}
}

// webhookWorker POSTs the events of q to target until ctx ends.
func (s *Server) webhookWorker(ctx context.Context, client *http.Client, target string, q <-chan events.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-q:
			p := webhookPayload{Event: e}
			if e.ID != 0 {
				if m, err := s.cfg.Store.MessageByID(ctx, e.ID); err == nil {
					fixSummary(m)
					p.Message = m
				}
			}
			body, err := json.Marshal(&p)
			if err != nil {
				continue
			}
			s.postWebhook(ctx, client, target, body)
		}
	}
}

// postWebhook POSTs body to target, retrying as Run says.
func (s *Server) postWebhook(ctx context.Context, client *http.Client, target string, body []byte) {
	wait := s.webhookBackoff
	for attempt := 0; ; attempt++ {
		err := s.postOnce(ctx, client, target, body)
		if err == nil || ctx.Err() != nil {
			return
		}
		var pe *permanentError
		if errors.As(err, &pe) || attempt == webhookRetries {
			s.log.Warn("console: webhook failed", "url", redact(target), "attempts", attempt+1, "err", err)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait *= 2
	}
}

// A permanentError is a webhook's answer that retrying will not change.
type permanentError struct{ status int }

func (e *permanentError) Error() string { return fmt.Sprintf("status %d", e.status) }

// postOnce makes one attempt.
func (s *Server) postOnce(ctx context.Context, client *http.Client, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &permanentError{0}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "inetkit-console")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return &permanentError{resp.StatusCode} // 3xx (not followed), 4xx
}

// redact returns a URL without its password, for logs.
func redact(target string) string {
	if u, err := url.Parse(target); err == nil {
		return u.Redacted()
	}
	return target
}
