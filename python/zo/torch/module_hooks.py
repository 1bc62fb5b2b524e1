"""The hooks that tie a torch module to the engine: forward pre-hooks wait for each
module's own parameters (zo_engine_wait_params), and per-parameter post-accumulate-grad
hooks hand each gradient over (zo_engine_grad_ready) as soon as autograd has finished it."""


def own_indices(module, index_of):
    """The engine indices of `module`'s own parameters (not its children's) that the
    engine trains; `index_of` maps id(param) to its index."""
    return [index_of[id(p)] for p in module._parameters.values() if p is not None and id(p) in index_of]


class ModuleHooks:
    """Installs the hooks on `module` for `params` (the engine's parameters, in engine
    order) and removes them on remove(). `engine` is a zo.Engine."""

    def __init__(self, module, params, engine):
        self.engine = engine
        self.index_of = {id(param): index for index, param in enumerate(params)}
        self.ready = [False] * len(params)
        self.handles = []
        # a parameter used by a module that is not its owner (a tied head reading the
        # embedding's weight): the first forward's root hook waits for every parameter,
        # notes which ones their owners' hooks waited for, and later waits for the rest
        self.calibrated = False
        self.waited = set()
        self.orphans = []
        for submodule in module.modules():
            own = own_indices(submodule, self.index_of)
            if own and submodule is not module:
                self.handles.append(submodule.register_forward_pre_hook(self._waiter(own)))
        self.root_own = own_indices(module, self.index_of)
        self.handles.append(module.register_forward_pre_hook(self._root_pre_hook))
        self.handles.append(module.register_forward_hook(self._root_post_hook))
        for index, param in enumerate(params):
            self.handles.append(param.register_post_accumulate_grad_hook(self._grad_hook(index)))

    def _waiter(self, indices):
        def wait(_module, _inputs):
            for index in indices:
                self.engine.wait_params(index)
            if not self.calibrated:
                self.waited.update(indices)
        return wait

    def _root_pre_hook(self, _module, _inputs):
        if not self.calibrated:
            self.waited = set(self.root_own)
            for index in range(len(self.ready)):
                self.engine.wait_params(index)
        else:
            for index in self.root_own + self.orphans:
                self.engine.wait_params(index)

    def _root_post_hook(self, _module, _inputs, _output):
        if not self.calibrated:
            self.orphans = [i for i in range(len(self.ready)) if i not in self.waited]
            self.calibrated = True

    def _grad_hook(self, index):
        def ready(_param):
            self.engine.grad_ready(index)
            self.ready[index] = True
        return ready

    def hand_over_the_rest(self):
        """Parameters the backward did not reach (unused in this micro-step): their
        gradient buffer was zeroed, so zero is what they hand over."""
        for index, done in enumerate(self.ready):
            if not done:
                self.engine.grad_ready(index)
                self.ready[index] = True

    def start_micro_step(self):
        self.ready = [False] * len(self.ready)

    def remove(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []

