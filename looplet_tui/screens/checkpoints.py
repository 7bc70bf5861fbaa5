"""``CheckpointScreen`` (``t``): the run's checkpoints as a branch tree, and the state at one.

Each branch is listed flat, forks nest under the checkpoint they start from (see
``looplet_tui.timetravel.tree``).  Highlighting a checkpoint rebuilds its state with
``looplet_core.durable.checkpoints.load`` and shows what the run looked like then: counts and
usage, the context gauge, the steps so far and the exact messages.  Reading only: nothing here
changes the store or the running loop.  Forking (``f``) is the exception: it writes the
branch's first checkpoint and hands the branch to the debugger, which runs it in the main
timeline in place of the current run (``looplet_tui.timetravel.forks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree
from textual.widgets.tree import TreeNode

from looplet_core import Checkpoint, CheckpointStore, LoopletError
from looplet_core.durable.checkpoints import Snapshot, load
from looplet_tui.live.context import estimate
from looplet_tui.session import AttachSession, RunSession, tool_views
from looplet_tui.text import render
from looplet_tui.text.safe import literal
from looplet_tui.timetravel.forks import branch_session
from looplet_tui.timetravel.tree import (
    Branch,
    branch_pair,
    branch_steps,
    checkpoint_label,
    describe_state,
    fork_template,
    run_branches,
    side_effect_steps,
)
from looplet_tui.widgets.gauge import ContextGauge

__all__ = ["ATTACHED_READ_ONLY", "CheckpointScreen", "browser_for", "snapshot_renderable"]

ATTACHED_READ_ONLY = (
    "read only: the run's own process runs it, so no fork starts here; once it stops, "
    "`looplet-tui resume STORE --run ID` forks and resumes it in the debugger"
)
"""Why an attached run's checkpoints are only browsed: a fork or resume would run it twice."""

_STEPS_SHOWN = 30


def snapshot_renderable(snapshot: Snapshot, *, timings: bool = True) -> RenderableType:
    """The state at a checkpoint: facts, the steps so far (newest last), then the messages.

    ``timings=False`` leaves out each step's duration, as the debugger's timeline does with its
    ``timings`` off (a wall-clock figure would make screenshots differ from run to run)."""
    facts = Table(box=None, show_header=False, pad_edge=False, expand=True)
    facts.add_column("what", style="bold", no_wrap=True)
    facts.add_column("value", ratio=1)
    for label, value in describe_state(snapshot):
        facts.add_row(label, literal(value, limit=400))
    steps = list(snapshot.state.steps)
    parts: list[RenderableType] = [facts, Text(""), Text(f"Steps ({len(steps)})", style="bold")]
    if len(steps) > _STEPS_SHOWN:
        parts.append(Text(f"… {len(steps) - _STEPS_SHOWN} earlier steps", style="dim"))
    for step in steps[-_STEPS_SHOWN:]:
        line = step.pretty()
        if not timings:
            line = line.removesuffix(f" [{step.elapsed_ms:.0f}ms]")
        parts.append(literal(line, "" if step.ok else "red", limit=300))
    parts += [Text(""), Text("Messages", style="bold")]
    parts.append(render.prompt_renderable(list(snapshot.state.conversation), folded=True))
    return Group(*parts)


class CheckpointScreen(Screen[None]):
    """Browse ``run_id``'s checkpoints in ``store``; the highlighted one's state is shown.

    ``window`` and ``tools`` size the context gauge (the run's window and tool schemas).
    ``session`` is the run being debugged: forks take its model, tools, hooks and settings, and
    the tree opens on the checkpoint it is at.  Without one, nothing can be forked.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", tooltip="Read the store again (a live run adds more)"),
        Binding(
            "f",
            "fork",
            "Fork",
            tooltip="Fork from this checkpoint with an edit; debug the branch live",
        ),
        Binding("d", "compare", "Diff", tooltip="Compare this branch with its parent or fork"),
        Binding("escape,q,t", "close", "Close", tooltip="Back to the debugger"),
    ]

    DEFAULT_CSS = """
    CheckpointScreen {
        & #cp-title { height: auto; padding: 0 1; background: $boost; }
        & #cp-main { height: 1fr; }
        & #cp-tree { width: 40%; min-width: 30; border-right: vkey $border-blurred; }
        & #cp-right { width: 1fr; }
        & #cp-gauge { height: 6; border-bottom: hkey $border-blurred; }
        & #cp-state { height: 1fr; padding: 0 1; }
        & #cp-state > Static { width: 1fr; }
    }
    """

    class BranchChosen(Message):
        """A fork was edited and confirmed: the app runs ``session`` in place of the current run."""

        def __init__(self, session: RunSession) -> None:
            super().__init__()
            self.session = session

    def __init__(
        self,
        store: CheckpointStore,
        run_id: str,
        *,
        window: int | None = None,
        tools: Sequence[Any] = (),
        session: RunSession | None = None,
        run_finished: Callable[[], bool] | None = None,
        read_only: str | None = None,
        id: str | None = None,
    ) -> None:
        """``session`` and ``run_finished`` (is the current run over?) make forking possible;
        without them the browser only reads.  ``read_only`` says on screen why not (an
        attached run: its own process holds it)."""
        super().__init__(id=id)
        self.read_only = read_only
        self.store = store
        self.run_id = run_id
        self.window = window
        self.tools = tools
        self.session = session
        self.run_finished = run_finished
        self.snapshot: Snapshot | None = None
        """The state rebuilt at the highlighted checkpoint."""

    def compose(self) -> ComposeResult:
        yield Static(id="cp-title")
        with Horizontal(id="cp-main"):
            tree: Tree[Checkpoint] = Tree("checkpoints", id="cp-tree")
            tree.show_root = False
            yield tree
            with Vertical(id="cp-right"):
                yield ContextGauge(id="cp-gauge")
                with VerticalScroll(id="cp-state"):
                    yield Static(id="cp-state-body")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.query_one(Tree).focus()

    @property
    def branch_tree(self) -> Tree[Checkpoint]:
        return self.query_one("#cp-tree", Tree)

    def action_reload(self) -> None:
        """(Re)build the tree from the store, keeping the highlighted checkpoint if it is there
        (at first: the one the debugged run is at, so a fork opens on its own branch)."""
        tree = self.branch_tree
        if self.snapshot is not None:
            keep = self.snapshot.checkpoint.id
        else:
            keep = self.session.state.checkpoint_id if self.session is not None else None
        tree.clear()
        try:
            layout = run_branches(self.store, self.run_id)
        except LoopletError as exc:
            self._title(f"Cannot read the checkpoints: {exc}", "bold red")
            return
        count = sum(b.count() for b in layout)
        names = {b.name for b in _all(layout)}
        note = f"\n{self.read_only}" if self.read_only else ""
        self._title(
            f"run {self.run_id} · {count} checkpoints · {len(names)} "
            f"branch{'es' if len(names) != 1 else ''} · enter/arrows: show the state then{note}",
            "bold",
        )
        for branch in layout:
            self._add(tree.root, branch)
        tree.root.expand_all()
        marked = [n for n in _nodes(tree.root) if n.data is not None]
        node = next((n for n in marked if n.data is not None and n.data.id == keep), None)
        node = node or (marked[-1] if marked else None)
        if node is not None and node.data is not None:
            self.show(node.data)
            self.call_after_refresh(tree.move_cursor, node)

    def _title(self, text: str, style: str) -> None:
        self.query_one("#cp-title", Static).update(literal(text, style))

    def _add(self, parent: TreeNode[Checkpoint], branch: Branch) -> None:
        head = parent.add(literal(f"branch {branch.name}", "bold"), expand=True)
        for cp in branch.checkpoints:
            forks = branch.forks.get(cp.id, [])
            node = head.add(literal(checkpoint_label(cp)), data=cp, expand=True)
            if not forks:
                node.allow_expand = False
            for fork in forks:
                self._add(node, fork)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Checkpoint]) -> None:
        event.stop()
        if event.node.data is not None:
            self.show(event.node.data)

    def show(self, checkpoint: Checkpoint) -> None:
        """Rebuild the state at ``checkpoint`` and show it (errors are shown, not raised)."""
        body = self.query_one("#cp-state-body", Static)
        try:
            snapshot = load(self.store, checkpoint.id)
        except LoopletError as exc:
            body.update(literal(f"Cannot rebuild {checkpoint.id}: {exc}", "red"))
            return
        self.snapshot = snapshot
        state = snapshot.state
        gauge = self.query_one(ContextGauge)
        gauge.stats = state.current_context or estimate(
            list(state.conversation), self.tools, self.window
        )
        gauge.history = ()
        body.update(snapshot_renderable(snapshot, timings=getattr(self.app, "timings", True)))
        self.query_one("#cp-state", VerticalScroll).scroll_home(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)

    # -- forking --------------------------------------------------------------------------------

    def action_fork(self) -> None:
        """Edit a fork of the highlighted checkpoint; the debugger then runs the branch live.

        The debugger shows one run at a time, so the branch replaces the current run: the editor
        says so when that run has not finished."""
        from looplet_tui.screens.fork import ForkEditScreen

        if self.read_only:
            self.notify(f"Not forked: {self.read_only}.", severity="warning", markup=False)
            return
        snapshot, parent, finished = self.snapshot, self.session, self.run_finished
        if snapshot is None or parent is None or finished is None:
            self.notify("Forking needs a checkpoint and the run's model.", markup=False)
            return
        cp = snapshot.checkpoint
        risky = side_effect_steps(self._branch_steps(cp), parent.tools, cp.step)

        def start(edit: dict[str, Any]) -> RunSession:
            return branch_session(parent, self.store, cp.id, edit)

        def chosen(session: RunSession | None) -> None:
            if session is not None:
                self.post_message(self.BranchChosen(session))

        stops = None if finished() else parent.state.branch_id
        steps = list(snapshot.state.steps)
        last = steps[-1].tool_call if steps else None
        editor = ForkEditScreen(
            cp,
            fork_template(snapshot),
            risky,
            start=start,
            stops=stops,
            call=last,
            views=tool_views(parent),
        )
        self.app.push_screen(editor, chosen)

    def action_compare(self) -> None:
        from looplet_tui.rundiff.align import compare_runs
        from looplet_tui.screens.run_diff import RunDiffScreen

        if self.snapshot is None:
            return
        try:
            pair = branch_pair(run_branches(self.store, self.run_id), self.snapshot.checkpoint.id)
            if pair is None:
                self.notify("Highlight a fork, or a checkpoint a fork starts from.", markup=False)
                return
            a, b = pair
            steps = branch_steps(self.store, a), branch_steps(self.store, b)
        except LoopletError as exc:
            self.notify(f"Cannot read the branches: {exc}", severity="error", markup=False)
            return
        comparison = compare_runs(*steps, label_a=f"branch {a.name}", label_b=f"branch {b.name}")
        self.app.push_screen(RunDiffScreen(comparison))

    def _branch_steps(self, cp: Checkpoint) -> list[Any]:
        """The steps of ``cp``'s branch as far as it went (read from its newest checkpoint)."""
        for branch in _all(run_branches(self.store, self.run_id)):
            if any(c.id == cp.id for c in branch.checkpoints):
                try:
                    return list(load(self.store, branch.checkpoints[-1].id).state.steps)
                except LoopletError:
                    return []
        return []


def _all(layout: list[Branch]) -> list[Branch]:
    found: list[Branch] = []
    for branch in layout:
        found.append(branch)
        found += _all([b for bs in branch.forks.values() for b in bs])
    return found


def _nodes(node: TreeNode[Checkpoint]) -> list[TreeNode[Checkpoint]]:
    found: list[TreeNode[Checkpoint]] = []
    for child in node.children:
        found.append(child)
        found += _nodes(child)
    return found


def browser_for(
    session: object, run_finished: Callable[[], bool] | None = None
) -> CheckpointScreen | str:
    """The checkpoint browser for a debugger session's run, or one line saying why there is none.

    ``run_finished`` says whether the debugger's current run is over (a fork replaces it)."""
    if isinstance(session, AttachSession):
        try:
            if not session.store.list(session.run_id):
                return "No checkpoint yet: the run writes one after each step."
        except LoopletError as exc:
            return f"Cannot read the checkpoints: {exc}"
        return CheckpointScreen(
            session.store, session.run_id, window=session.window, read_only=ATTACHED_READ_ONLY
        )
    if not isinstance(session, RunSession):
        return "A replayed trace has no checkpoints: the browser needs a run with --checkpoints."
    store = session.config.checkpoint
    if store is None:
        return "This run keeps no checkpoints: start it with --checkpoints DIR to browse them."
    run_id = session.state.run_id
    try:
        if not store.list(run_id):
            return "No checkpoint yet: one is written after each step."
    except LoopletError as exc:
        return f"Cannot read the checkpoints: {exc}"
    return CheckpointScreen(
        store,
        run_id,
        window=session.window,
        tools=session.tools.schemas(),
        session=session,
        run_finished=run_finished,
    )
