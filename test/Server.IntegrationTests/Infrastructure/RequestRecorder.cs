using System.Collections.Concurrent;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Holdfast.Server.IntegrationTests.Infrastructure;

/// <summary>An SDK pipeline policy that records the URIs the client really sent (to check api-versions on the wire).</summary>
public sealed class RequestRecorder : HttpPipelineSynchronousPolicy
{
    private readonly ConcurrentQueue<string> _uris = new();

    public IReadOnlyCollection<string> Uris => _uris;

    public override void OnSendingRequest(HttpMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _uris.Enqueue(message.Request.Uri.ToString());
    }
}
