package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// triggerParams lists the parameter fields of one trigger.
type triggerParams struct {
	Required []string `json:"required"`
	Optional []string `json:"optional"`
}

// workflowDoc is the body of GET /workflow.
type workflowDoc struct {
	States      []workflow.State                   `json:"states"`
	Triggers    []workflow.Trigger                 `json:"triggers"`
	Params      map[workflow.Trigger]triggerParams `json:"params"`
	Substates   map[workflow.State]workflow.State  `json:"substates"`
	Transitions []workflow.TransitionInfo          `json:"transitions"`
	DOT         string                             `json:"dot"`
	Mermaid     string                             `json:"mermaid"`
}

func (s *server) workflowDoc(c echo.Context) error {
	doc := workflowDoc{
		States:      workflow.States,
		Triggers:    workflow.Triggers,
		Params:      map[workflow.Trigger]triggerParams{},
		Substates:   map[workflow.State]workflow.State{workflow.StateSubmitted: workflow.StateRectifying, workflow.StateInNotice: workflow.StateVerified},
		Transitions: workflow.Transitions(),
		DOT:         workflow.DOT(),
		Mermaid:     workflow.Mermaid(),
	}
	for _, t := range workflow.Triggers {
		req, opt := workflow.ParamFields(t)
		if req == nil {
			req = []string{}
		}
		if opt == nil {
			opt = []string{}
		}
		doc.Params[t] = triggerParams{Required: req, Optional: opt}
	}
	return c.JSON(http.StatusOK, doc)
}

func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}
