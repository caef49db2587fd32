package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

// Kafka authentication kinds (--kafka-auth). `none` is the local Kafka (plaintext, no SASL). `entra`
// is Event Hubs' Kafka endpoint with Microsoft Entra ID: bootstrap `<namespace>.servicebus.windows.net:9093`,
// security protocol SASL_SSL, mechanism OAUTHBEARER, a token for `https://<bootstrap host>/.default`
// (https://learn.microsoft.com/azure/developer/java/spring-framework/migrate-kafka-to-passwordless-connection:
// `BOOTSTRAP_SERVERS_CONFIG, "<eventhubs-namespace>.servicebus.windows.net:9093"`,
// `SECURITY_PROTOCOL_CONFIG, "SASL_SSL"`, `SASL_MECHANISM, "OAUTHBEARER"`, and the token audience
// `"%s://%s/.default"` of the bootstrap server's URI). "For Kafka clients, the resource to request a
// token is https://<namespace>.servicebus.windows.net"
// (https://learn.microsoft.com/azure/event-hubs/authenticate-application); in Azure China the host is
// `<namespace>.servicebus.chinacloudapi.cn` (https://docs.azure.cn/en-us/event-hubs/authenticate-application),
// which the scope follows because it is taken from the broker's own host.
const (
	KafkaAuthNone  = "none"
	KafkaAuthEntra = "entra"
)

// kafkaOptions are the options that reach one unit's Kafka. The consumer's own options (group, topic,
// commits) are added by NewWriter, the same for every kind: only how the client connects differs.
func kafkaOptions(cfg Config, u Unit) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(u.Brokers...)}
	switch cfg.KafkaAuth {
	case "", KafkaAuthNone:
		return opts, nil
	case KafkaAuthEntra:
		scope, err := eventHubsScope(u.Brokers)
		if err != nil {
			return nil, fmt.Errorf("unit %s: %w", u.Name, err)
		}
		cred, err := cfg.credential()
		if err != nil {
			return nil, err
		}
		tlsConfig := cfg.KafkaTLS
		if tlsConfig == nil {
			// The system's roots; the server name is the dialed broker's host (DialTLSConfig sets it).
			tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return append(opts, kgo.DialTLSConfig(tlsConfig), kgo.SASL(entraMechanism(cred, scope))), nil
	}
	return nil, fmt.Errorf("kafka auth %q: want %s or %s", cfg.KafkaAuth, KafkaAuthNone, KafkaAuthEntra)
}

// eventHubsScope is `https://<host>/.default` for a unit's brokers, which must share one host: a unit
// is one Event Hubs namespace.
func eventHubsScope(brokers []string) (string, error) {
	host := ""
	for _, b := range brokers {
		h, _, err := net.SplitHostPort(b)
		if err != nil {
			return "", fmt.Errorf("broker %q: %w", b, err)
		}
		if host != "" && h != host {
			return "", fmt.Errorf("brokers %v: an Event Hubs namespace has one host", brokers)
		}
		host = h
	}
	return "https://" + host + "/.default", nil
}

// entraMechanism is SASL OAUTHBEARER with a token from cred, asked for on every new connection and
// reauthentication; the credential keeps tokens in memory until they near expiry.
func entraMechanism(cred azcore.TokenCredential, scope string) sasl.Mechanism {
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		token, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			return oauth.Auth{}, fmt.Errorf("token for %s: %w", scope, err)
		}
		return oauth.Auth{Token: token.Token}, nil
	})
}

// credential is cfg.Credential, or else the pod's workload identity. AKS's workload identity webhook
// injects AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST
// (https://azure.github.io/azure-workload-identity/docs/installation/mutating-admission-webhook.html);
// the credential reads the first three, and azidentity takes the authority host (Azure China's
// login.chinacloudapi.cn) from AZURE_AUTHORITY_HOST.
func (cfg Config) credential() (azcore.TokenCredential, error) {
	if cfg.Credential != nil {
		return cfg.Credential, nil
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("workload identity: %w", err)
	}
	return cred, nil
}

// needsIdentity tells whether cfg authenticates anywhere with Entra ID.
func (cfg Config) needsIdentity() bool {
	return cfg.KafkaAuth == KafkaAuthEntra || cfg.StoreKind == StoreCosmosNoSQL
}
