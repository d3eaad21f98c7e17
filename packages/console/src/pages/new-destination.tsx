import { useLocation } from "preact-iso";
import { DestinationForm } from "../destinations/destination-form";

export function NewDestination() {
  const { route } = useLocation();
  return (
    <>
      <h1>New destination</h1>
      <DestinationForm onSaved={(d) => route(`/console/destinations/${d.id}`)} />
    </>
  );
}
