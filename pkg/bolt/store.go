// Package bolt implements sdesk.Store on an embedded bbolt file, for the
// self-hosted `sdesk serve`.
//
// Buckets (integers are 8-byte big-endian, so keys sort numerically):
//
//	issues          <iid>                          -> JSON mapping (with its state)
//	threads         <threadID>                     -> <iid>
//	claims          <key>                          -> <expiry, unix ns>
//	jobs            <id>                           -> JSON sdesk.Job
//	jobs_by_status  /#<status>/ <created>\x00<id>  -> <id>
//	expiry          <unix ns><kind><name>          -> ""  (claims and jobs)
//	notes           <iid><noteID>                  -> JSON []string
//
// Files written by earlier versions may also hold a bucket "reporters"
// (/<userID>/ <iid> -> "", a reporter's issues). Nothing reads or writes it
// any more; it is left as it is and does no harm.
//
// Every write is one bbolt transaction. Reads treat records past their
// expiry as absent; write transactions also delete up to sweepLimit expired
// records through the expiry index, so the file does not grow forever.
package bolt

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// ErrLocked is returned (wrapped) by Open when another process holds the
// database file.
var ErrLocked = errors.New("database is locked by another process")

// lockTimeout is how long Open waits for the file lock.
const lockTimeout = time.Second

// sweepLimit bounds the expired records one write transaction deletes.
const sweepLimit = 256

var (
	bucketIssues       = []byte("issues")
	bucketThreads      = []byte("threads")
	bucketClaims       = []byte("claims")
	bucketJobs         = []byte("jobs")
	bucketJobsByStatus = []byte("jobs_by_status")
	bucketExpiry       = []byte("expiry")
	bucketNotes        = []byte("notes")
)

// Kinds of records in the expiry index.
const (
	expiryClaim = 'c'
	expiryJob   = 'j'
)

// sortTime is RFC 3339 with a fixed nine-digit fraction: its strings sort
// like the times they encode.
const sortTime = "2006-01-02T15:04:05.000000000Z07:00"

// Store is a sdesk.Store in a bbolt file.
type Store struct {
	db *bbolt.DB
}

var _ sdesk.Store = (*Store)(nil)

// Open opens (creating if needed) the bbolt file at path. If another
// process holds the file, Open gives up after a second with an error
// wrapping ErrLocked.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("bolt: open %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{
			bucketIssues, bucketThreads, bucketClaims,
			bucketJobs, bucketJobsByStatus, bucketExpiry, bucketNotes,
		} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	// A write waits at most this long for others to share its commit.
	db.MaxBatchDelay = batchDelay
	return &Store{db: db}, nil
}

// batchDelay is how long a write waits for concurrent writes to join its
// transaction (bbolt's default is 10 ms, too long for an interaction's
// few writes within Discord's 3 s and sdesk's 50 ms aim).
const batchDelay = time.Millisecond

// Close closes the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// update runs fn in a write transaction, after sweeping expired records.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Batch: concurrent writes share one transaction and one fsync, which
	// bounds throughput (make bench: five commits an event). fn may run
	// more than once (bbolt runs a batch member again alone when another
	// fails); every fn here only writes through tx and sets its results
	// afresh, so a rerun is harmless.
	return s.db.Batch(func(tx *bbolt.Tx) error {
		now := time.Now()
		if err := sweep(tx, now); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		return fn(tx, now)
	})
}

func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func u64(n int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n))
}

func unixNano(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

func fromUnixNano(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)))
}

func expiryKey(at time.Time, kind byte, name string) []byte {
	k := unixNano(at)
	k = append(k, kind)
	return append(k, name...)
}

// sweep deletes claims and jobs whose expiry has passed.
func sweep(tx *bbolt.Tx, now time.Time) error {
	idx := tx.Bucket(bucketExpiry)
	c := idx.Cursor()
	var done [][]byte
	for k, _ := c.First(); k != nil && len(done) < sweepLimit; k, _ = c.Next() {
		if len(k) < 9 || fromUnixNano(k[:8]).After(now) {
			break
		}
		done = append(done, k)
	}
	for _, k := range done {
		name := string(k[9:])
		switch k[8] {
		case expiryClaim:
			if err := tx.Bucket(bucketClaims).Delete([]byte(name)); err != nil {
				return err
			}
		case expiryJob:
			if err := deleteJob(tx, name); err != nil {
				return err
			}
		}
		if err := idx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// mappingRecord is the stored form of a mapping.
type mappingRecord struct {
	IssueIID   int       `json:"iid"`
	IssueURL   string    `json:"issue_url"`
	ThreadID   string    `json:"thread_id"`
	GuildID    string    `json:"guild_id"`
	ChannelID  string    `json:"channel_id"`
	ReporterID string    `json:"reporter_id"`
	Title      string    `json:"title"`
	CreatedAt  time.Time `json:"created_at"`
	State      string    `json:"state,omitempty"`
	StateAt    time.Time `json:"state_at,omitzero"`
}

// PutMapping writes the issue and thread records in one transaction. It
// fails with sdesk.ErrConflict, writing nothing, when the issue is mapped
// to another thread or reporter or the thread to another issue. Re-writing
// a mapping updates every field except CreatedAt, State and StateAt, which
// keep their first values (State "" is sdesk.StateOpened; another state
// than opened or closed is an error).
func (s *Store) PutMapping(ctx context.Context, m sdesk.Mapping) error {
	if m.IssueIID <= 0 || m.ThreadID == "" {
		return fmt.Errorf("bolt: put mapping: need an issue IID and a thread ID, got %d and %q", m.IssueIID, m.ThreadID)
	}
	if m.State != "" && m.State != sdesk.StateOpened && m.State != sdesk.StateClosed {
		return fmt.Errorf("bolt: put mapping of issue %d: unknown state %q", m.IssueIID, m.State)
	}
	err := s.update(ctx, func(tx *bbolt.Tx, _ time.Time) error {
		// Set afresh on every run: update may run fn again.
		created, state, stateAt := m.CreatedAt, m.State, m.StateAt
		if state == "" {
			state = sdesk.StateOpened
		}
		issues, threads := tx.Bucket(bucketIssues), tx.Bucket(bucketThreads)
		iidKey := u64(m.IssueIID)
		if old, ok, err := getMapping(issues, iidKey); err != nil {
			return err
		} else if ok {
			if old.ThreadID != m.ThreadID {
				return fmt.Errorf("issue %d is mapped to thread %q: %w", m.IssueIID, old.ThreadID, sdesk.ErrConflict)
			}
			if old.ReporterID != m.ReporterID {
				return fmt.Errorf("issue %d belongs to reporter %q: %w", m.IssueIID, old.ReporterID, sdesk.ErrConflict)
			}
			created, state, stateAt = old.CreatedAt, old.State, old.StateAt
		}
		if v := threads.Get([]byte(m.ThreadID)); v != nil && binary.BigEndian.Uint64(v) != uint64(m.IssueIID) {
			return fmt.Errorf("thread %q is mapped to issue %d: %w", m.ThreadID, binary.BigEndian.Uint64(v), sdesk.ErrConflict)
		}
		rec, err := json.Marshal(mappingRecord{
			IssueIID:   m.IssueIID,
			IssueURL:   m.IssueURL,
			ThreadID:   m.ThreadID,
			GuildID:    m.GuildID,
			ChannelID:  m.ChannelID,
			ReporterID: m.ReporterID,
			Title:      m.Title,
			CreatedAt:  created,
			State:      state,
			StateAt:    stateAt,
		})
		if err != nil {
			return err
		}
		if err := issues.Put(iidKey, rec); err != nil {
			return err
		}
		return threads.Put([]byte(m.ThreadID), iidKey)
	})
	if err != nil {
		return fmt.Errorf("bolt: put mapping: %w", err)
	}
	return nil
}

func getMapping(issues *bbolt.Bucket, iidKey []byte) (sdesk.Mapping, bool, error) {
	v := issues.Get(iidKey)
	if v == nil {
		return sdesk.Mapping{}, false, nil
	}
	m, err := decodeMapping(v)
	if err != nil {
		return sdesk.Mapping{}, false, fmt.Errorf("decode mapping of issue %d: %w", binary.BigEndian.Uint64(iidKey), err)
	}
	return m, true, nil
}

// decodeMapping decodes a record of the issues bucket; one written before
// states were kept is opened.
func decodeMapping(v []byte) (sdesk.Mapping, error) {
	var r mappingRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return sdesk.Mapping{}, err
	}
	if r.State == "" {
		r.State = sdesk.StateOpened
	}
	return sdesk.Mapping(r), nil
}

// SetMappingState records issue iid's state as of at, unless the mapping
// holds a state of a later time; see sdesk.Store.
func (s *Store) SetMappingState(ctx context.Context, iid int, state string, at time.Time) error {
	if state != sdesk.StateOpened && state != sdesk.StateClosed {
		return fmt.Errorf("bolt: set state of issue %d: unknown state %q", iid, state)
	}
	err := s.update(ctx, func(tx *bbolt.Tx, _ time.Time) error {
		issues := tx.Bucket(bucketIssues)
		m, ok, err := getMapping(issues, u64(iid))
		if err != nil {
			return err
		}
		if !ok {
			return sdesk.ErrNotFound
		}
		if m.StateAt.After(at) {
			return nil
		}
		m.State, m.StateAt = state, at.UTC()
		rec, err := json.Marshal(mappingRecord(m))
		if err != nil {
			return err
		}
		return issues.Put(u64(iid), rec)
	})
	if err != nil {
		return fmt.Errorf("bolt: set state of issue %d: %w", iid, err)
	}
	return nil
}

// Mappings returns the mappings q selects, newest first; see sdesk.Store.
// It reads and decodes every mapping, whatever q selects: 5,000 take
// 30 to 40 ms on a 2-core machine (BenchmarkMappings), well inside the
// 3 s in which Discord wants an interaction answered.
func (s *Store) Mappings(ctx context.Context, q sdesk.MappingQuery) ([]sdesk.Mapping, error) {
	out := []sdesk.Mapping{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketIssues).ForEach(func(k, v []byte) error {
			m, err := decodeMapping(v)
			if err != nil {
				return fmt.Errorf("decode mapping of issue %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if (q.ReporterID == "" || m.ReporterID == q.ReporterID) && (q.State == "" || m.State == q.State) {
				out = append(out, m)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list mappings: %w", err)
	}
	slices.SortFunc(out, func(a, b sdesk.Mapping) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.IssueIID, a.IssueIID)
	})
	out = out[min(max(q.Offset, 0), len(out)):]
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// MappingByIssue returns the mapping of an issue, or sdesk.ErrNotFound.
func (s *Store) MappingByIssue(ctx context.Context, iid int) (sdesk.Mapping, error) {
	var m sdesk.Mapping
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		m, ok, err = getMapping(tx.Bucket(bucketIssues), u64(iid))
		if err == nil && !ok {
			err = sdesk.ErrNotFound
		}
		return err
	})
	if err != nil {
		return sdesk.Mapping{}, fmt.Errorf("bolt: mapping of issue %d: %w", iid, err)
	}
	return m, nil
}

// MappingByThread returns the mapping of a thread, or sdesk.ErrNotFound.
func (s *Store) MappingByThread(ctx context.Context, threadID string) (sdesk.Mapping, error) {
	var m sdesk.Mapping
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		iidKey := tx.Bucket(bucketThreads).Get([]byte(threadID))
		if iidKey == nil {
			return sdesk.ErrNotFound
		}
		var ok bool
		var err error
		m, ok, err = getMapping(tx.Bucket(bucketIssues), iidKey)
		if err == nil && !ok {
			err = sdesk.ErrNotFound
		}
		return err
	})
	if err != nil {
		return sdesk.Mapping{}, fmt.Errorf("bolt: mapping of thread %q: %w", threadID, err)
	}
	return m, nil
}

// Claim records key until ttl has passed; see sdesk.Store.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" || ttl <= 0 {
		return false, fmt.Errorf("bolt: claim: need a key and a positive ttl, got %q and %v", key, ttl)
	}
	won := false
	err := s.update(ctx, func(tx *bbolt.Tx, now time.Time) (err error) {
		won, err = claim(tx, now, key, ttl)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("bolt: claim %q: %w", key, err)
	}
	return won, nil
}

// ClaimJob claims key and stores j in one transaction; j is stored only
// when the claim is won.
func (s *Store) ClaimJob(ctx context.Context, key string, ttl time.Duration, j sdesk.Job) (bool, error) {
	if key == "" || ttl <= 0 || j.ID == "" {
		return false, fmt.Errorf("bolt: claim job: need a key, a positive ttl and a job ID, got %q, %v and %q", key, ttl, j.ID)
	}
	rec, err := json.Marshal(j)
	if err != nil {
		return false, fmt.Errorf("bolt: claim job %q: %w", j.ID, err)
	}
	won := false
	err = s.update(ctx, func(tx *bbolt.Tx, now time.Time) error {
		won = false // set afresh on every run: update may run fn again
		ok, err := claim(tx, now, key, ttl)
		if err != nil || !ok {
			return err
		}
		if err := putJob(tx, j, rec); err != nil {
			return err
		}
		won = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bolt: claim job %q: %w", j.ID, err)
	}
	return won, nil
}

// claim writes a claim on key unless an unexpired one exists.
func claim(tx *bbolt.Tx, now time.Time, key string, ttl time.Duration) (bool, error) {
	claims, idx := tx.Bucket(bucketClaims), tx.Bucket(bucketExpiry)
	if v := claims.Get([]byte(key)); v != nil {
		old := fromUnixNano(v)
		if old.After(now) {
			return false, nil
		}
		if err := idx.Delete(expiryKey(old, expiryClaim, key)); err != nil {
			return false, err
		}
	}
	exp := now.Add(ttl)
	if err := claims.Put([]byte(key), unixNano(exp)); err != nil {
		return false, err
	}
	return true, idx.Put(expiryKey(exp, expiryClaim, key), nil)
}

// Release deletes a claim.
func (s *Store) Release(ctx context.Context, key string) error {
	err := s.update(ctx, func(tx *bbolt.Tx, _ time.Time) error {
		claims := tx.Bucket(bucketClaims)
		v := claims.Get([]byte(key))
		if v == nil {
			return nil
		}
		if err := tx.Bucket(bucketExpiry).Delete(expiryKey(fromUnixNano(v), expiryClaim, key)); err != nil {
			return err
		}
		return claims.Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("bolt: release %q: %w", key, err)
	}
	return nil
}

// statusBucket names the list of a status ("#" keeps an empty status a
// valid bucket name).
func statusBucket(status sdesk.JobStatus) []byte {
	return []byte("#" + status)
}

func statusKey(j sdesk.Job) []byte {
	k := []byte(j.CreatedAt.UTC().Format(sortTime))
	k = append(k, 0)
	return append(k, j.ID...)
}

func getJob(tx *bbolt.Tx, id string) (sdesk.Job, bool, error) {
	v := tx.Bucket(bucketJobs).Get([]byte(id))
	if v == nil {
		return sdesk.Job{}, false, nil
	}
	var j sdesk.Job
	if err := json.Unmarshal(v, &j); err != nil {
		return sdesk.Job{}, false, fmt.Errorf("decode job %q: %w", id, err)
	}
	return j, true, nil
}

func expired(j sdesk.Job, now time.Time) bool {
	return !j.ExpiresAt.IsZero() && !now.Before(j.ExpiresAt)
}

// deleteJob removes a job and its index entries.
func deleteJob(tx *bbolt.Tx, id string) error {
	old, ok, err := getJob(tx, id)
	if err != nil || !ok {
		return err
	}
	if list := tx.Bucket(bucketJobsByStatus).Bucket(statusBucket(old.Status)); list != nil {
		if err := list.Delete(statusKey(old)); err != nil {
			return err
		}
	}
	if !old.ExpiresAt.IsZero() {
		if err := tx.Bucket(bucketExpiry).Delete(expiryKey(old.ExpiresAt, expiryJob, id)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketJobs).Delete([]byte(id))
}

// PutJob creates or replaces a job.
func (s *Store) PutJob(ctx context.Context, j sdesk.Job) error {
	if j.ID == "" {
		return errors.New("bolt: put job: empty ID")
	}
	rec, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("bolt: put job %q: %w", j.ID, err)
	}
	err = s.update(ctx, func(tx *bbolt.Tx, _ time.Time) error {
		return putJob(tx, j, rec)
	})
	if err != nil {
		return fmt.Errorf("bolt: put job %q: %w", j.ID, err)
	}
	return nil
}

// putJob replaces the record of j (rec is j encoded) and its indexes.
func putJob(tx *bbolt.Tx, j sdesk.Job, rec []byte) error {
	if err := deleteJob(tx, j.ID); err != nil {
		return err
	}
	if err := tx.Bucket(bucketJobs).Put([]byte(j.ID), rec); err != nil {
		return err
	}
	list, err := tx.Bucket(bucketJobsByStatus).CreateBucketIfNotExists(statusBucket(j.Status))
	if err != nil {
		return err
	}
	if err := list.Put(statusKey(j), []byte(j.ID)); err != nil {
		return err
	}
	if j.ExpiresAt.IsZero() {
		return nil
	}
	return tx.Bucket(bucketExpiry).Put(expiryKey(j.ExpiresAt, expiryJob, j.ID), nil)
}

// GetJob returns a job, or sdesk.ErrNotFound if it is missing or expired.
func (s *Store) GetJob(ctx context.Context, id string) (sdesk.Job, error) {
	var j sdesk.Job
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		j, ok, err = getJob(tx, id)
		if err == nil && (!ok || expired(j, time.Now())) {
			err = sdesk.ErrNotFound
		}
		return err
	})
	if err != nil {
		return sdesk.Job{}, fmt.Errorf("bolt: get job %q: %w", id, err)
	}
	return j, nil
}

// ListJobs returns the unexpired jobs with the given status, oldest first.
func (s *Store) ListJobs(ctx context.Context, status sdesk.JobStatus) ([]sdesk.Job, error) {
	out := []sdesk.Job{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		list := tx.Bucket(bucketJobsByStatus).Bucket(statusBucket(status))
		if list == nil {
			return nil
		}
		now := time.Now()
		return list.ForEach(func(_, id []byte) error {
			j, ok, err := getJob(tx, string(id))
			if err != nil {
				return err
			}
			if ok && !expired(j, now) {
				out = append(out, j)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list %s jobs: %w", status, err)
	}
	return out, nil
}

func noteKey(iid, noteID int) []byte {
	return append(u64(iid), u64(noteID)...)
}

// PutNoteMessages creates or replaces the message list of a note.
func (s *Store) PutNoteMessages(ctx context.Context, iid, noteID int, messageIDs []string) error {
	if messageIDs == nil {
		messageIDs = []string{}
	}
	rec, err := json.Marshal(messageIDs)
	if err != nil {
		return fmt.Errorf("bolt: put messages of note %d on issue %d: %w", noteID, iid, err)
	}
	err = s.update(ctx, func(tx *bbolt.Tx, _ time.Time) error {
		return tx.Bucket(bucketNotes).Put(noteKey(iid, noteID), rec)
	})
	if err != nil {
		return fmt.Errorf("bolt: put messages of note %d on issue %d: %w", noteID, iid, err)
	}
	return nil
}

// NoteMessages returns the message list of a note, or sdesk.ErrNotFound.
func (s *Store) NoteMessages(ctx context.Context, iid, noteID int) ([]string, error) {
	var ids []string
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketNotes).Get(noteKey(iid, noteID))
		if v == nil {
			return sdesk.ErrNotFound
		}
		return json.Unmarshal(v, &ids)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: messages of note %d on issue %d: %w", noteID, iid, err)
	}
	return ids, nil
}
