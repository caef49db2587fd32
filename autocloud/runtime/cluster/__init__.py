"""The embedded local Kubernetes cluster: a real control plane and a real node, as plain processes.

Everything runs inside one network and mount namespace (`autocloud.runtime.node`): etcd (client
certificates, loopback only), kube-apiserver, kube-controller-manager, kube-scheduler, containerd
with runc and CNI, kubelet, kube-proxy, kube-router's NetworkPolicy firewall, and CoreDNS as a pod.
The host reaches the API server through `autocloud.runtime.relay` on 127.0.0.1; nothing else listens on the
host. KWOK adds a second, simulated node (tainted) for workloads whose images cannot be built here
yet. Certificates, data, logs, pid files and the kubeconfig live under `.state/cluster/`. A user
who exports KUBECONFIG naming another cluster gets that cluster instead and nothing embedded starts;
KUBECONFIG naming this cluster's own kubeconfig is this cluster.

The modules follow the cluster's parts: `settings` (ports, folders, identities, components),
`processes`, `pki` (certificates, tokens, kubeconfigs), `api`, `addons`, `tunnel` and `lifecycle`.
"""

from autocloud.runtime.cluster.api import Api as Api
from autocloud.runtime.cluster.lifecycle import ClusterStatus as ClusterStatus
from autocloud.runtime.cluster.lifecycle import ComponentStatus as ComponentStatus
from autocloud.runtime.cluster.lifecycle import Watch as Watch
from autocloud.runtime.cluster.lifecycle import start as start
from autocloud.runtime.cluster.lifecycle import status as status
from autocloud.runtime.cluster.lifecycle import stop as stop
from autocloud.runtime.cluster.lifecycle import wait_volumes_removed as wait_volumes_removed
from autocloud.runtime.cluster.lifecycle import watch as watch
from autocloud.runtime.cluster.settings import COMPONENTS as COMPONENTS
from autocloud.runtime.cluster.settings import HOLDER as HOLDER
from autocloud.runtime.cluster.settings import NODE_NAME as NODE_NAME
from autocloud.runtime.cluster.settings import RELAY as RELAY
from autocloud.runtime.cluster.settings import SIMULATED_LABEL as SIMULATED_LABEL
from autocloud.runtime.cluster.settings import SIMULATED_NODE as SIMULATED_NODE
from autocloud.runtime.cluster.settings import ClusterError as ClusterError
from autocloud.runtime.cluster.settings import ClusterSettingError as ClusterSettingError
from autocloud.runtime.cluster.settings import Component as Component
from autocloud.runtime.cluster.settings import Layout as Layout
from autocloud.runtime.cluster.settings import Ports as Ports
from autocloud.runtime.cluster.settings import default_layout as default_layout
from autocloud.runtime.cluster.settings import kubeconfig_path as kubeconfig_path
from autocloud.runtime.cluster.tunnel import Tunnel as Tunnel
from autocloud.runtime.cluster.tunnel import on_node_network as on_node_network
from autocloud.runtime.cluster.tunnel import open_tunnel as open_tunnel
