package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// maxFilesBody bounds the JSON bodies of the other files routes.
const maxFilesBody = 1 << 20

func (h *handler) filesRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /task/caches/restore", h.auth(h.filesOnly(h.restoreCache)))
	mux.HandleFunc("POST /task/caches/save", h.auth(h.filesOnly(h.saveCache)))
	mux.HandleFunc("POST /task/caches/commit", h.auth(h.filesOnly(h.commitCache)))
	mux.HandleFunc("POST /task/workspace/persist", h.auth(h.filesOnly(h.persistWorkspace)))
	mux.HandleFunc("POST /task/workspace/commit", h.auth(h.filesOnly(h.commitWorkspace)))
	mux.HandleFunc("GET /task/workspace", h.auth(h.filesOnly(h.attachWorkspace)))
	mux.HandleFunc("POST /task/artifacts", h.auth(h.filesOnly(h.storeArtifacts)))
	mux.HandleFunc("POST /task/steps/{n}/tests", h.auth(h.filesOnly(h.storeTests)))
	mux.HandleFunc("GET /task/timings", h.auth(h.filesOnly(h.timings)))
	mux.HandleFunc("PUT /uploads/{key...}", h.upload)
}

func (h *handler) filesOnly(next taskHandler) taskHandler {
	return func(w http.ResponseWriter, r *http.Request, id string) error {
		if h.files == nil {
			return ErrNotImplemented
		}
		return next(w, r, id)
	}
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) restoreCache(w http.ResponseWriter, r *http.Request, id string) error {
	var req CacheRestoreRequest
	if err := decodeLimit(r, &req, maxFilesBody); err != nil {
		return err
	}
	res, err := h.files.RestoreCache(r.Context(), id, req)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (h *handler) saveCache(w http.ResponseWriter, r *http.Request, id string) error {
	var req CacheSaveRequest
	if err := decodeLimit(r, &req, maxFilesBody); err != nil {
		return err
	}
	res, err := h.files.SaveCache(r.Context(), id, req)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (h *handler) commitCache(w http.ResponseWriter, r *http.Request, id string) error {
	var req CacheCommit
	if err := decodeLimit(r, &req, maxFilesBody); err != nil {
		return err
	}
	if err := h.files.CommitCache(r.Context(), id, req); err != nil {
		return err
	}
	return noContent(w)
}

func (h *handler) persistWorkspace(w http.ResponseWriter, r *http.Request, id string) error {
	var req WorkspacePersist
	if err := decodeLimit(r, &req, maxFilesBody); err != nil {
		return err
	}
	res, err := h.files.PersistWorkspace(r.Context(), id, req)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (h *handler) commitWorkspace(w http.ResponseWriter, r *http.Request, id string) error {
	var req WorkspaceCommit
	if err := decodeLimit(r, &req, maxFilesBody); err != nil {
		return err
	}
	if err := h.files.CommitWorkspace(r.Context(), id, req); err != nil {
		return err
	}
	return noContent(w)
}

func (h *handler) attachWorkspace(w http.ResponseWriter, r *http.Request, id string) error {
	res, err := h.files.AttachWorkspace(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (h *handler) storeArtifacts(w http.ResponseWriter, r *http.Request, id string) error {
	var req ArtifactsRequest
	if err := decodeLimit(r, &req, maxFilesBody); err != nil {
		return err
	}
	if len(req.Files) > MaxArtifactsPerRequest {
		return errors.Join(ErrBadRequest, errors.New("too many artifacts in one request"))
	}
	res, err := h.files.StoreArtifacts(r.Context(), id, req)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (h *handler) storeTests(w http.ResponseWriter, r *http.Request, id string) error {
	n, err := stepIndex(r)
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(r.URL.Query().Get("seq"))
	if err != nil || seq < 0 {
		return errors.Join(ErrBadRequest, errors.New("seq must be a non-negative integer"))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxTestBatchBytes+1))
	if err != nil {
		return fmt.Errorf("read test batch: %w", err)
	}
	if len(body) > MaxTestBatchBytes {
		return errors.Join(ErrBadRequest, fmt.Errorf("test batch larger than %d bytes: split it", MaxTestBatchBytes))
	}
	var b TestBatch
	if err := json.Unmarshal(body, &b); err != nil {
		return errors.Join(ErrBadRequest, fmt.Errorf("test batch: %w", err))
	}
	if len(b.Tests) > MaxTestBatch {
		return errors.Join(ErrBadRequest, errors.New("too many tests in one batch"))
	}
	if err := h.files.StoreTests(r.Context(), id, n, seq, b); err != nil {
		return err
	}
	return noContent(w)
}

func (h *handler) timings(w http.ResponseWriter, r *http.Request, id string) error {
	res, err := h.files.Timings(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

// upload is PUT /uploads/{key}: authorized by the URL's signature, not by a
// task token.
func (h *handler) upload(w http.ResponseWriter, r *http.Request) {
	err := ErrNotImplemented
	if h.files != nil {
		err = h.files.Upload(r.Context(), r.PathValue("key"), r.URL.Query(), r.Body)
	}
	if err != nil {
		h.writeErr(w, r, "", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
