package tensorbox

// Integration test of the team and API key helpers against the live server (see main_test.go): a team, its key
// (shown once), quotas and usage, the key's scope and its revocation.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLiveTeamsAndKeys(t *testing.T) {
	admin := liveOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	team, err := CreateTeam(ctx, "go-team", &admin)
	if err != nil {
		t.Fatal(err)
	}
	key, err := CreateAPIKey(ctx, team.TeamID, "go-key", &admin)
	if err != nil || !strings.HasPrefix(key.Key, "e2b_") || key.Mask != "e2b_…"+key.Key[len(key.Key)-4:] {
		t.Fatalf("key %+v, %v", key, err)
	}
	two := 2
	d, err := SetTeamQuotas(ctx, team.TeamID, map[string]*int{"maxRunningSandboxes": &two}, &admin)
	if err != nil || d.Quotas.MaxRunningSandboxes != 2 || d.Usage.RunningSandboxes != 0 {
		t.Fatalf("quotas %+v, %v", d, err)
	}
	asTeam := admin
	asTeam.APIKey = key.Key
	if own, err := GetTeam(ctx, team.TeamID, &asTeam); err != nil || own.TeamID != team.TeamID {
		t.Fatalf("own team: %+v, %v", own, err)
	}
	if _, err := ListTeams(ctx, &asTeam); !errors.Is(err, ErrPermissionDenied) {
		t.Fatal("a team key listed teams")
	}
	if err := RevokeAPIKey(ctx, team.TeamID, key.Id, &admin); err != nil {
		t.Fatal(err)
	}
	if _, err := GetTeam(ctx, team.TeamID, &asTeam); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := DeleteTeam(ctx, team.TeamID, &admin); err != nil {
		t.Fatal(err)
	}
}
