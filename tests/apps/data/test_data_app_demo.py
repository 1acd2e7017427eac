import random


def test_demo_loader_makes_datasets_lists_and_applications(world):
    from gaodi.apps.data.demo import load_data_demo
    from gaodi.apps.data.models import AccessApplication, Dataset, OpenListVersion

    result = load_data_demo(random.Random(1))
    assert result == {"datasets": 3, "applications": 2}
    assert Dataset.objects.count() == 3 and OpenListVersion.objects.count() == 3
    assert set(AccessApplication.objects.values_list("state", flat=True)) == {"approved", "rejected"}
