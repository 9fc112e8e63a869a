using System.Collections.Concurrent;
using System.Net;
using Holdfast.Resources.Errors;

namespace Holdfast.Server.Arm.Throttling;

public enum RequestClass
{
    Read,
    Write,
    Delete,
}

/// <summary>
/// ARM's token-bucket throttling, per subscription (or tenant, for tenant-level calls), per principal and per request
/// class. A request takes one token; an empty bucket answers 429 <c>SubscriptionRequestsThrottled</c> with the seconds
/// until the next token in <c>Retry-After</c>.
/// </summary>
internal sealed class RequestThrottle(ThrottleOptions options, TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<(string Scope, string Principal, RequestClass Class), Bucket> _buckets = new();

    /// <summary>Takes a token and returns what is left (for the <c>x-ms-ratelimit-remaining-*</c> header), or throws 429.</summary>
    public long Take(string scope, string principal, RequestClass requestClass)
    {
        if (!options.Enabled)
        {
            return long.MaxValue;
        }

        var (size, refill) = requestClass switch
        {
            RequestClass.Read => (options.ReadBucket, options.ReadRefillPerSecond),
            RequestClass.Write => (options.WriteBucket, options.WriteRefillPerSecond),
            _ => (options.DeleteBucket, options.DeleteRefillPerSecond),
        };
        if (size <= 0)
        {
            return long.MaxValue;
        }

        var bucket = _buckets.GetOrAdd((scope, principal, requestClass), _ => new Bucket(size, timeProvider.GetTimestamp()));
        lock (bucket)
        {
            var now = timeProvider.GetTimestamp();
            var elapsed = timeProvider.GetElapsedTime(bucket.LastRefill, now).TotalSeconds;
            bucket.Tokens = Math.Min(size, bucket.Tokens + (elapsed * refill));
            bucket.LastRefill = now;
            if (bucket.Tokens < 1)
            {
                var wait = (int)Math.Ceiling((1 - bucket.Tokens) / refill);
                throw new ApiException(
                    (HttpStatusCode)429,
                    ArmErrorCodes.SubscriptionRequestsThrottled,
                    $"Number of '{requestClass.ToString().ToLowerInvariant()}' requests for subscription '{scope}' actor '{principal}' exceeded. Please try again after '{wait}' seconds after the additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.")
                {
                    RetryAfterSeconds = Math.Max(1, wait),
                };
            }

            bucket.Tokens -= 1;
            return (long)bucket.Tokens;
        }
    }

    private sealed class Bucket(double tokens, long lastRefill)
    {
        public double Tokens { get; set; } = tokens;

        public long LastRefill { get; set; } = lastRefill;
    }
}
