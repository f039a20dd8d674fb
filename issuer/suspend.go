package issuer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/greenpass-dcc/greenpass/store"
)

// The operator's stop on a rogue issuer (in 2021, fake pharmacies issued
// certificates for days before anyone could stop them): a suspension,
// durable in the store and seen by every instance, refuses the issuer's
// every issuing and lab request; a window revocation puts every
// certificate it made in a time span on the revocation list. Every action
// is written to the admin log.

// More collections of the issuer.
const (
	CollSuspensions = "suspensions" // suspended issuers, by issuer id
	CollAdminLog    = "admin_log"   // what operators did, by time
)

// ErrSuspended: the issuer is suspended by an operator.
var ErrSuspended = errors.New("this issuer is suspended; ask the operator")

// ErrBadWindow: a revocation window that is empty, reversed or unbounded.
var ErrBadWindow = errors.New("the window needs from before to")

// Suspension is an operator's stop on an issuer.
type Suspension struct {
	Issuer string    `json:"issuer"`
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by"` // the operator's token subject
	At     time.Time `json:"at"`
}

// AdminAction is one entry of the admin log (no personal data: issuer ids
// name organisations).
type AdminAction struct {
	At       time.Time  `json:"at"`
	Admin    string     `json:"admin"`
	Action   string     `json:"action"` // suspend, lift, revoke-window
	Issuer   string     `json:"issuer"`
	Reason   string     `json:"reason,omitempty"`
	From     *time.Time `json:"from,omitempty"`
	To       *time.Time `json:"to,omitempty"`
	Revoked  int        `json:"revoked,omitempty"`
	Previous int        `json:"previous,omitempty"` // already revoked before
}

// suspended is this process's copy of the suspensions: changed at once by
// its own Suspend and Lift, reloaded from the store by
// RefreshSuspensions for those made on other instances.
type suspended struct {
	mu  sync.RWMutex
	set map[string]bool
}

func (x *suspended) has(id string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.set[id]
}

func (x *suspended) put(id string, on bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.set == nil {
		x.set = map[string]bool{}
	}
	if on {
		x.set[id] = true
	} else {
		delete(x.set, id)
	}
}

func (x *suspended) replace(set map[string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.set = set
}

// maxSuspensions bounds one read of the suspensions.
const maxSuspensions = 1_000_000

// Suspended says whether the issuer is suspended, from this process's
// copy (current within the refresh interval for other instances' calls).
func (s *Service) Suspended(issuerID string) bool { return s.suspended.has(issuerID) }

// RefreshSuspensions reloads the suspensions from the store.
func (s *Service) RefreshSuspensions(ctx context.Context) error {
	items, err := s.suspensions.List(ctx, "", maxSuspensions)
	if err != nil {
		return fmt.Errorf("read suspensions: %w", err)
	}
	set := make(map[string]bool, len(items))
	for _, it := range items {
		set[it.ID] = true
	}
	s.suspended.replace(set)
	return nil
}

// WatchSuspensions refreshes the suspensions every interval until ctx
// ends; a failed read keeps the last copy (and is retried).
func (s *Service) WatchSuspensions(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.RefreshSuspensions(ctx); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Suspend stops an issuer; created is false when it was suspended already
// (the earlier suspension is returned). It holds on this instance at once.
func (s *Service) Suspend(ctx context.Context, admin, issuerID, reason string) (Suspension, bool, error) {
	if err := checkIssuerID(issuerID); err != nil {
		return Suspension{}, false, err
	}
	sus := Suspension{Issuer: issuerID, Reason: truncate(reason), By: admin, At: s.cfg.Now().UTC()}
	_, err := s.suspensions.Insert(ctx, issuerID, time.Time{}, sus)
	if errors.Is(err, store.ErrExists) {
		prev, _, gerr := s.suspensions.Get(ctx, issuerID)
		if gerr == nil {
			s.suspended.put(issuerID, true)
			return prev, false, nil
		}
		err = gerr
	}
	if err != nil {
		return Suspension{}, false, fmt.Errorf("store suspension: %w", err)
	}
	s.suspended.put(issuerID, true)
	s.logAdmin(ctx, AdminAction{At: sus.At, Admin: admin, Action: "suspend", Issuer: issuerID, Reason: sus.Reason})
	return sus, true, nil
}

// Lift ends an issuer's suspension; lifted is false when there was none.
func (s *Service) Lift(ctx context.Context, admin, issuerID string) (bool, error) {
	if err := checkIssuerID(issuerID); err != nil {
		return false, err
	}
	err := s.suspensions.Delete(ctx, issuerID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.suspended.put(issuerID, false)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("delete suspension: %w", err) // still suspended
	}
	s.suspended.put(issuerID, false)
	s.logAdmin(ctx, AdminAction{At: s.cfg.Now().UTC(), Admin: admin, Action: "lift", Issuer: issuerID})
	return true, nil
}

// WindowRevocation is what RevokeWindow did.
type WindowRevocation struct {
	Issuer   string    `json:"issuer"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Revoked  int       `json:"revoked"`  // newly revoked now
	Previous int       `json:"previous"` // in the window, revoked before
}

// windowPage is how many audit records a window revocation reads at a time.
const windowPage = 1000

// RevokeWindow revokes every certificate the issuer made from from (inclusive)
// to to (exclusive), through the same records as a single revocation, and
// republishes the revocation list once. Calling it again revokes nothing
// new. The issuer's UVCIs start with its part of the UVCI, per country;
// the audit record's exact issuer decides (two ids may share a part).
func (s *Service) RevokeWindow(ctx context.Context, admin, issuerID string, from, to time.Time) (WindowRevocation, error) {
	out := WindowRevocation{Issuer: issuerID, From: from.UTC(), To: to.UTC()}
	if err := checkIssuerID(issuerID); err != nil {
		return out, err
	}
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return out, ErrBadWindow
	}
	// Per country, only the window's range of the issuer's UVCIs is read
	// (they sort by the millisecond of issuing), a page at a time; the
	// audit record's iat, whole seconds at most a second before the UVCI's
	// time, decides.
	part := uvciIssuerPart(issuerID)
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			prefix := "URN:UVCI:01:" + string([]rune{a, b}) + ":" + part + "/"
			after, toKey := timeRange(prefix, from, to.Add(time.Second))
			err := s.eachInRange(ctx, prefix, after, toKey, windowPage, func(_ string, au Audit) (bool, error) {
				if au.Issuer != issuerID || au.IssuedAt.Before(from) || !au.IssuedAt.Before(to) {
					return true, nil
				}
				_, created, err := s.revoke(ctx, &au)
				if created {
					out.Revoked++
				} else if err == nil {
					out.Previous++
				}
				return err == nil, err
			})
			if err != nil {
				return out, err
			}
		}
	}
	if out.Revoked > 0 && s.cfg.OnRevoke != nil {
		s.cfg.OnRevoke()
	}
	f, t := out.From, out.To
	s.logAdmin(ctx, AdminAction{At: s.cfg.Now().UTC(), Admin: admin, Action: "revoke-window", Issuer: issuerID,
		From: &f, To: &t, Revoked: out.Revoked, Previous: out.Previous})
	return out, nil
}

// AdminLog lists the admin log's entries, oldest first, up to limit.
func (s *Service) AdminLog(ctx context.Context, limit int) ([]AdminAction, error) {
	items, err := s.adminLog.List(ctx, "", limit)
	if err != nil {
		return nil, err
	}
	out := make([]AdminAction, 0, len(items))
	for _, it := range items {
		out = append(out, it.Value)
	}
	return out, nil
}

// logAdmin writes an admin log entry; its ID sorts by time. A failure to
// write it does not undo the action (which is durable itself).
func (s *Service) logAdmin(ctx context.Context, a AdminAction) {
	var r [6]byte
	rand.Read(r[:])
	id := a.At.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(r[:])
	s.adminLog.Insert(ctx, id, time.Time{}, a)
}

// checkIssuerID admits issuer ids as tokens carry them: 1 to 128
// printable ASCII characters below '~' (store IDs listed by prefix).
func checkIssuerID(id string) error {
	if id == "" || len(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return r < 0x20 || r >= 0x7e }) >= 0 {
		return fmt.Errorf("%w: issuer id must be 1 to 128 printable ASCII characters", ErrMalformed)
	}
	return nil
}
