#!/usr/bin/env bash
# A short fault campaign (bench/fault_campaign.sh, docs/RELIABILITY.md): byzgd-server killed
# with SIGKILL at 3 random points of one supervised run; every restart resumes from a valid
# checkpoint, the run finishes, and metrics.jsonl holds rounds 1..R exactly once each
# (regression: a resume wrote the rounds past its checkpoint a second time).
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen byzgd-supervise
KILLS=3 ROUNDS=400 BYZGD_BIN=$BYZGD_BIN bash "$BYZGD_ROOT/bench/fault_campaign.sh" server-kills
