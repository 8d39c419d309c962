"""The simulated sensors' drivers pass biocap's driver conformance kit (same checks as vendors')."""
import pytest

from biocap_vendor_sim import make_bus
from biocap_vendor_sim.drivers import DRIVERS
from biocap_vendor_sim.sources import make_source

from biocap.plugins import conformance


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: d.name)
def test_driver_conforms(driver):
    modality = driver.modality.value

    def fresh_bus():
        return make_bus(faults={}, sources={modality: make_source(f"{modality}-synthetic")},
                        modalities=(modality,))

    report = conformance.assert_conformant(driver, fresh_bus, quiet_deadline_s=0.5)
    assert report.passed
