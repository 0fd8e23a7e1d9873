package main

import (
	"bytes"
	"context"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/workflow"
)

// The in-process phase of rectify bench: the same commands as service
// calls, on the same store, without HTTP.

// inprocDriver runs the lifecycle through the workflow service, with the
// evidence file stored in the blob store as an upload would.
type inprocDriver struct {
	svc      *workflow.Service
	blobs    *blob.Store
	actors   [3]workflow.Actor
	leadUnit string
	county   string
	deadline time.Time
}

func (l *benchLocal) driver() *inprocDriver {
	return &inprocDriver{svc: l.svc, blobs: l.blobs, actors: l.actors, leadUnit: seeds.FuliangUnitID, county: l.county, deadline: benchDeadline()}
}

func (d *inprocDriver) create(ctx context.Context, i int) (string, uint64, error) {
	p, _, err := d.svc.CreateProblem(ctx, d.actors[roleBureau], benchProblem(i, d.county))
	if err != nil {
		return "", 0, err
	}
	return p.ID, p.Version, nil
}

func (d *inprocDriver) step(ctx context.Context, k int, id string, version uint64) (uint64, error) {
	kind := benchKinds[k]
	unit := d.actors[roleUnit]
	var (
		p   *workflow.Problem
		err error
	)
	switch kind {
	case "assign":
		dl := d.deadline
		p, err = d.svc.Fire(ctx, d.actors[roleBureau], id, workflow.Command{Trigger: workflow.TriggerAssign,
			Params: workflow.Params{LeadUnit: d.leadUnit, Deadline: &dl}, IfVersion: version})
	case "accept":
		p, err = d.svc.Fire(ctx, unit, id, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: benchParams["accept"]["plan"]}, IfVersion: version})
	case "note":
		p, err = d.svc.AddNote(ctx, unit, id, benchNote, version)
	case "evidence":
		png := uniquePNG("problem " + id)
		sha, size, perr := d.blobs.Put(ctx, bytes.NewReader(png), api.DefaultEvidenceMaxBytes)
		if perr != nil {
			return 0, perr
		}
		p, err = d.svc.AddEvidence(ctx, unit, id, workflow.EvidenceInput{SHA256: sha, Name: "现场照片.png", Size: size,
			Type: "image/png", Description: "整改后现场照片"}, version)
	case "submit":
		p, err = d.svc.Fire(ctx, unit, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: benchParams["submit"]["summary"]}, IfVersion: version})
	case "verify":
		p, err = d.svc.Fire(ctx, d.actors[roleInspector], id, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: benchParams["verify"]["opinion"]}, IfVersion: version})
	case "close":
		p, err = d.svc.Fire(ctx, d.actors[roleBureau], id, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: benchParams["close"]["statement"]}, IfVersion: version})
	}
	if err != nil {
		return 0, err
	}
	return p.Version, nil
}
