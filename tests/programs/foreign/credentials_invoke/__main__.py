"""A cluster's user credentials, read through an invoke on the cluster being created and decoded in
an `apply`: a preview leaves that invoke unknown, so the decoding never runs there."""

import base64

import pulumi
import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

group = azure_native.resources.ResourceGroup("aks", location="westeurope", tags=TAGS)
cluster = azure_native.containerservice.ManagedCluster(
    "cluster",
    resource_group_name=group.name,
    location="westeurope",
    dns_prefix="fleet",
    tags=TAGS,
)
credentials = azure_native.containerservice.list_managed_cluster_user_credentials_output(
    resource_group_name=group.name, resource_name=cluster.name
)
kubeconfig = credentials.kubeconfigs[0].value.apply(lambda encoded: base64.b64decode(encoded).decode())
# No dependency on anything declared here: answered (with placeholders) as a preview answers it.
client = azure_native.authorization.get_client_config_output()
pulumi.export("kubeconfig", pulumi.Output.secret(kubeconfig))
pulumi.export("tenant", client.tenant_id)
