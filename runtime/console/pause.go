package console

import (
	"net/http"
	"strings"
)

func (c *console) confirmPause(w http.ResponseWriter, r *http.Request) {
	if c.readOnly(w, r) {
		return
	}
	d := &confirmData{
		Question: "Pause delivery of every event?",
		Detail:   "Every processor stops claiming events until someone resumes delivery here. Events keep being enqueued, and wait.",
		Button:   "Pause delivery",
		Action:   c.opts.Prefix + "/pause",
		Danger:   true,
		Cancel:   c.opts.Prefix + "/",
		Reason:   true,
	}
	c.render(w, r, http.StatusOK, "confirm", c.newView(r, "Pause delivery", d))
}

func (c *console) pause(w http.ResponseWriter, r *http.Request) {
	c.pauseOrResume(w, r, true)
}

func (c *console) resume(w http.ResponseWriter, r *http.Request) {
	c.pauseOrResume(w, r, false)
}

func (c *console) pauseOrResume(w http.ResponseWriter, r *http.Request, pause bool) {
	if c.readOnly(w, r) || !c.checkCSRF(w, r) {
		return
	}
	var err error
	done := "resumed"
	if pause {
		done = "paused"
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if len(reason) > 500 {
			reason = reason[:500]
		}
		err = c.opts.Pauser.PauseDelivery(r.Context(), user(r), reason)
	} else {
		err = c.opts.Pauser.ResumeDelivery(r.Context(), user(r))
	}
	if err != nil {
		c.failErr(w, r, strings.TrimSuffix(done, "d")+" delivery", err)
		return
	}
	c.log.Info("console: delivery "+done, "user", user(r))
	http.Redirect(w, r, c.opts.Prefix+"/?done="+done, http.StatusSeeOther)
}
