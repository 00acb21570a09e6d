"""One torch thread for these tests: on a shared 2-core machine two threads per process oversubscribe the
cores
and slow the denoiser loops by an order of magnitude."""

import pytest


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
