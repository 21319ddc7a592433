/* event — fan-out of events to the registered sinks. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>

void event_bus_add(struct event_bus *bus, struct sink *s)
{
	if (bus->n >= EVENT_BUS_MAX) {
		fputs("smtpscope: too many outputs\n", stderr);
		abort();
	}
	bus->sinks[bus->n++] = s;
	bus->wants |= s->wants ? s->wants : ~0u;
}

void event_bus_emit(struct event_bus *bus, const struct event *ev)
{
	if (!(bus->wants & EV_BIT(ev->type)))
		return;
	for (int i = 0; i < bus->n; i++)
		if (!bus->sinks[i]->wants || (bus->sinks[i]->wants & EV_BIT(ev->type)))
			bus->sinks[i]->ops->emit(bus->sinks[i], ev);
}

void event_bus_flush(struct event_bus *bus)
{
	for (int i = 0; i < bus->n; i++)
		if (bus->sinks[i]->ops->flush)
			bus->sinks[i]->ops->flush(bus->sinks[i]);
}

void event_bus_close(struct event_bus *bus)
{
	for (int i = 0; i < bus->n; i++)
		bus->sinks[i]->ops->close(bus->sinks[i]);
	bus->n = 0;
}
