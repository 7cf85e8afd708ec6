package tensorbox

// Teams and API keys (admin helpers): the admin key manages every team; a team key may read its own team and manage
// its own keys. Sandbox users need none of this: the key they pass decides their team. Shapes are
// spec/openapi.yaml's (internal/api).

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

type (
	// Team is a team's ID, name and creation time.
	Team = api.Team
	// TeamDetail is a team with its quotas and usage.
	TeamDetail = api.TeamDetail
	// TeamQuotas are a team's limits.
	TeamQuotas = api.TeamQuotas
	// APIKey is a team's key as listed (masked).
	APIKey = api.TeamAPIKey
	// CreatedAPIKey is a new key; Key is in this answer only.
	CreatedAPIKey = api.CreatedTeamAPIKey
)

func teamPath(teamID string) string { return "/teams/" + url.PathEscape(teamID) }

// CreateTeam creates a team (admin key).
func CreateTeam(ctx context.Context, name string, opts *Options) (*Team, error) {
	var out Team
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodPost, path: "/teams", body: api.NewTeam{Name: name}, out: &out,
		what: "create team"})
	return &out, err
}

// ListTeams lists every team (admin key).
func ListTeams(ctx context.Context, opts *Options) ([]Team, error) {
	var out []Team
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodGet, path: "/teams", out: &out, what: "list teams"})
	return out, err
}

// GetTeam returns a team with its quotas and usage.
func GetTeam(ctx context.Context, teamID string, opts *Options) (*TeamDetail, error) {
	var out TeamDetail
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodGet, path: teamPath(teamID), out: &out, what: "get team " + teamID})
	return &out, err
}

// SetTeamQuotas sets quotas by name (maxRunningSandboxes, maxVcpus, maxMemoryMB, maxDiskMB, maxTemplates); a nil
// value returns that quota to the server default (admin key).
func SetTeamQuotas(ctx context.Context, teamID string, quotas map[string]*int, opts *Options) (*TeamDetail, error) {
	var out TeamDetail
	body := map[string]any{"quotas": quotas}
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodPatch, path: teamPath(teamID), body: body, out: &out,
		what: "set quotas of team " + teamID})
	return &out, err
}

// DeleteTeam deletes a team and its keys; refused while it has running sandboxes (admin key).
func DeleteTeam(ctx context.Context, teamID string, opts *Options) error {
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodDelete, path: teamPath(teamID), what: "delete team " + teamID})
	return err
}

// CreateAPIKey creates a key of a team; the key itself is returned this once.
func CreateAPIKey(ctx context.Context, teamID, name string, opts *Options) (*CreatedAPIKey, error) {
	var out CreatedAPIKey
	body := api.NewTeamAPIKey{Name: &name}
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodPost, path: teamPath(teamID) + "/api-keys", body: body, out: &out,
		what: "create API key"})
	return &out, err
}

// ListAPIKeys lists a team's keys, masked.
func ListAPIKeys(ctx context.Context, teamID string, opts *Options) ([]APIKey, error) {
	var out []APIKey
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodGet, path: teamPath(teamID) + "/api-keys", out: &out, what: "list API keys"})
	return out, err
}

// RevokeAPIKey revokes a key at once (its open connections close).
func RevokeAPIKey(ctx context.Context, teamID, apiKeyID string, opts *Options) error {
	path := teamPath(teamID) + "/api-keys/" + url.PathEscape(apiKeyID)
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodDelete, path: path, what: "revoke API key " + apiKeyID})
	return err
}
