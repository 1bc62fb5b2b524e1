"""ZeRO stage 3 for a torch module: a parameter's 16-bit weights are on the device only
between zo_engine_fetch and zo_engine_release. Forward pre-hooks fetch each module's own
parameters and point param.data at them; forward post-hooks release them. What autograd
saves for the backward (a weight, or a view such as Linear's weight.t()) is saved as
"parameter i, this view" instead of the memory itself (saved-tensor hooks), and unpacked
from a fresh fetch when the backward needs it, so a released slot that the engine reuses
can never be read by the backward. Each gradient is copied into the engine's gradient
slot by its post-accumulate-grad hook, handed over (grad_ready) and the parameter released."""
import torch

from zo.torch.module_hooks import own_indices


class Stage3Hooks:
    def __init__(self, module, params, engine):
        self.engine = engine
        self.params = params
        self.shapes = [param.shape for param in params]
        self.index_of = {id(param): index for index, param in enumerate(params)}
        self.fetched = [False] * len(params)
        self.ready = [False] * len(params)
        self.address_of = {}  # weights address of a fetched parameter -> its index
        self.handles = []
        for submodule in module.modules():
            own = own_indices(submodule, self.index_of)
            if own:
                self.handles.append(submodule.register_forward_pre_hook(self._fetcher(own)))
                self.handles.append(submodule.register_forward_hook(self._releaser(own), always_call=True))
        self.saved_tensors = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self.handles.append(module.register_forward_pre_hook(lambda *_: self.saved_tensors.__enter__()))
        self.handles.append(module.register_forward_hook(lambda *_: self.saved_tensors.__exit__(None, None, None),
                                                         always_call=True))
        for index, param in enumerate(params):
            self.handles.append(param.register_post_accumulate_grad_hook(self._grad_hook(index)))
        # made once: a release (every module's forward, every gradient) allocates nothing;
        # one each, so that no two parameters share even an empty storage
        self.nothing = [torch.empty(0, dtype=engine.dtype, device=engine.device) for _ in params]
        for index in range(len(params)):
            self._point_at_nothing(index)

    # --- weights --------------------------------------------------------------------------
    def _point_at_nothing(self, index):
        """A released parameter holds no memory: a use outside its module's forward fails
        loudly (an empty tensor) instead of reading a slot the engine gave to another."""
        self.params[index].data = self.nothing[index]

    def fetch(self, index):
        if self.fetched[index]:
            return self.params[index].data
        self.engine.fetch(index)
        weights = self.engine.weights(index)
        self.fetched[index] = True
        self.address_of[weights.data_ptr()] = index
        param = self.params[index]
        param.data = weights.view(self.shapes[index])
        return param.data

    def release(self, index):
        if not self.fetched[index]:
            return
        self.address_of.pop(self.params[index].data_ptr(), None)
        self.engine.release(index)
        self.fetched[index] = False
        self._point_at_nothing(index)

    def _fetcher(self, indices):
        def fetch(_module, _inputs):
            for index in indices:
                self.fetch(index)
        return fetch

    def _releaser(self, indices):
        def release(_module, _inputs, _output):
            for index in indices:
                self.release(index)
        return release

    def _pack(self, tensor):
        index = self.address_of.get(tensor.untyped_storage().data_ptr()) if tensor.numel() else None
        if index is None:
            return tensor
        return (index, tensor.storage_offset(), tuple(tensor.size()), tuple(tensor.stride()))

    def _unpack(self, packed):
        if not isinstance(packed, tuple):
            return packed
        index, offset, size, stride = packed
        weights = self.fetch(index)
        return weights.as_strided(size, stride, offset)

    # --- gradients ------------------------------------------------------------------------
    def _grad_hook(self, index):
        def ready(param):
            with torch.no_grad():
                self.engine.grads(index).copy_(param.grad.reshape(-1))
            param.grad = None
            self.engine.grad_ready(index)
            self.ready[index] = True
            self.release(index)
        return ready

    def start_micro_step(self):
        self.ready = [False] * len(self.params)
        for param in self.params:
            param.grad = None

    def hand_over_the_rest(self):
        """Parameters the backward did not reach hand over a zero gradient; whatever the
        backward fetched and no gradient released is released."""
        for index, done in enumerate(self.ready):
            if not done:
                self.engine.grads(index).zero_()
                self.engine.grad_ready(index)
                self.ready[index] = True
        for index in range(len(self.params)):
            self.release(index)

    def after_step(self):
        """zo_engine_step released everything: so does the Python side."""
        for index in range(len(self.params)):
            if self.fetched[index]:
                self.fetched[index] = False
                self._point_at_nothing(index)
        self.address_of.clear()

    def remove(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []
