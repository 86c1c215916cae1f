#!/bin/bash
# The fault scenarios of batch A of failures.sh, shared with jobs.sh (which runs
# them with jobs = 4 and checks the same classification): fault_batch DIR [EXTRA_LIMITS]
# makes the batch in DIR, one school per behaviour of tests/fixtures/fake-claude.sh.
# (big_line has its own batch in failures.sh: 81 MiB of output can take longer
# than this batch's 6 s iteration_timeout under ASan on a loaded machine.)
fault_batch() {
    local A=$1
    LIMITS="${2:+$2
}stall_timeout = \"3s\"
iteration_timeout = \"6s\"
max_cost_per_school_usd = 1
max_line_bytes = 16777216" \
    make_batch "$A" "Done University" "Wrong Count University" "Escape University" "Permanent University" \
        "Retryable University" "No Marker University" "No Result University" "Exit Two University" \
        "Crash University" "Hang University" "Slow University" "Repeat University" "Costly University" \
        "Usage Limit University" "Transient University" "Wrong School University" "Grandchild University"
    plan "$A" '{
      "Done University": {"default": "done"},
      "Wrong Count University": {"default": "done_wrong_count"},
      "Escape University": {"1": "done_escape", "2": "done_symlink", "default": "done_escape"},
      "Permanent University": {"default": "failed_permanent"},
      "Retryable University": {"default": "failed_retryable"},
      "No Marker University": {"default": "no_marker"},
      "No Result University": {"default": "no_result"},
      "Exit Two University": {"default": "exit_nonzero"},
      "Crash University": {"default": "crash"},
      "Hang University": {"1": "hang", "default": "done"},
      "Slow University": {"1": "slow_output", "default": "done"},
      "Repeat University": {"1": "repeat", "default": "done"},
      "Costly University": {"default": "cost_high"},
      "Usage Limit University": {"run1": "usage_limit", "default": "done"},
      "Transient University": {"run1": "api_429", "default": "done"},
      "Wrong School University": {"1": "wrong_school", "default": "done"},
      "Grandchild University": {"default": "grandchild"}
    }'
}
