# tmux helpers for the UI tests (sourced after tests/lib.sh). The caller
# defines tm() (tmux on its own socket) and a session named "ui".
cap() { tm capture-pane -p -t ui; }
keys() { tm send-keys -t ui "$@"; sleep 0.3; }
# wait_for TEXT [SECONDS]: until the pane shows TEXT (fixed string)
wait_for() {
	n=$(( ${2:-10} * 10 ))
	while [ "$n" -gt 0 ]; do
		cap | grep -qF -- "$1" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
has() { cap | grep -qF -- "$1"; }
hasnt() { ! cap | grep -qF -- "$1"; }
# data rows of the session table (lines after the column titles, before the footer)
rows() { cap | sed -n '5,49p' | grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2} '; }
